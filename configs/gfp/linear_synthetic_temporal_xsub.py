# Linear evaluation on the synthetic `temporal` preset, for the encoder of
# configs/gfp/gfp_synthetic_temporal_xsub.py (and of the MAMP baseline on the same data,
# configs/mamp/mamp_synthetic_temporal_xsub.py); tools/extract_features.py reads its
# test_dataloader for the frozen-feature probes of tools/analysis/run_ablations.py.
_base_ = ['./linear_synthetic_xsub.py']

ann_file = 'data/skeleton/synthetic_temporal.pkl'
model = dict(
    backbone=dict(init_cfg=dict(
        checkpoint='work_dirs/gfp_synthetic_temporal_xsub/epoch_40.pth')),
    cls_head=dict(num_classes=12))
train_dataloader = dict(dataset=dict(ann_file=ann_file))
val_dataloader = dict(dataset=dict(ann_file=ann_file))
test_dataloader = val_dataloader
