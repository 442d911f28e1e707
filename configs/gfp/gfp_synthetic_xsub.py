# GFP pre-training on the embedded synthetic skeleton dataset (tools/data/make_synthetic_ntu.py),
# sized for a 2-core CPU: the method unchanged, a narrower and shallower network
# (encoder 4 x 64, decoder stages 1 / 1 / 1) and a short schedule. Used by tools/demo.py.
# train_dataloader.batch_size (32) is per process; auto_scale_lr's base is the same 32,
# so with --auto-scale-lr the lr follows the total batch of a multi-process run.
_base_ = ['./gfp_ntu60_xsub.py']

ann_file = 'data/skeleton/synthetic_ntu.pkl'
width = 64
max_epochs = 60
warmup_epochs = 2

model = dict(
    backbone=dict(embed_dims=width, depth=4, num_heads=4),
    neck=dict(in_dims=width, embed_dims=width, depths=(1, 1, 1), num_heads=4,
              target_dims=width, global_hidden=4 * width),
    target_generator=dict(target_dims=width, local_hidden=256, global_hidden=512))

train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True, pin_memory=False,
    dataset=dict(ann_file=ann_file))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=5e-4,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
custom_hooks = [dict(type='CollapseMonitorHook', interval=20, std_threshold=0.05)]
