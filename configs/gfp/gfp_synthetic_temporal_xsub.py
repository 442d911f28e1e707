# GFP pre-training on the synthetic `temporal` preset (gfp_mmaction/testing/synthetic/
# temporal.py: 12 classes told apart by the order of two movements, 1,200 cross-subject
# training clips), with the demo-size network of gfp_synthetic_xsub.py. Used by
# tools/analysis/run_ablations.py; the data:
#   python tools/data/make_synthetic_ntu.py --preset temporal \
#       --out data/skeleton/synthetic_temporal.pkl
# 40 epochs x 37 iterations = 1,480 iterations at batch 32.
_base_ = ['./gfp_synthetic_xsub.py']

ann_file = 'data/skeleton/synthetic_temporal.pkl'
max_epochs = 40
warmup_epochs = 2

train_dataloader = dict(dataset=dict(ann_file=ann_file))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=5e-4,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
