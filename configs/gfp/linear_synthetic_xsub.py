# Linear evaluation on the embedded synthetic dataset, for the encoder of
# configs/gfp/gfp_synthetic_xsub.py. Used by tools/demo.py.
_base_ = ['./linear_ntu60_xsub.py']

ann_file = 'data/skeleton/synthetic_ntu.pkl'
width = 64
num_classes = 10
max_epochs = 10

model = dict(
    backbone=dict(
        embed_dims=width, depth=4, num_heads=4,
        init_cfg=dict(checkpoint='work_dirs/gfp_synthetic_xsub/epoch_60.pth')),
    cls_head=dict(num_classes=num_classes, in_channels=width))

train_dataloader = dict(
    batch_size=32, num_workers=2, pin_memory=False, dataset=dict(ann_file=ann_file))
val_dataloader = dict(
    batch_size=64, num_workers=2, pin_memory=False, dataset=dict(ann_file=ann_file))
test_dataloader = val_dataloader

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
