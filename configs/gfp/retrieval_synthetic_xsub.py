# Retrieval on the embedded synthetic dataset, for the encoder of
# configs/gfp/gfp_synthetic_xsub.py. Used by tools/demo.py:
#   python tools/test.py configs/gfp/retrieval_synthetic_xsub.py PRETRAINED.pth
_base_ = ['./retrieval_ntu60_xsub.py']

ann_file = 'data/skeleton/synthetic_ntu.pkl'
width = 64

model = dict(backbone=dict(embed_dims=width, depth=4, num_heads=4))
test_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=False, pin_memory=False,
    dataset=dict(ann_file=ann_file))
