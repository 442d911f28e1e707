# Fine-tuning on the embedded synthetic dataset, for the encoder of
# configs/gfp/gfp_synthetic_xsub.py: MAMP's recipe (layer-wise lr decay 0.8, drop-path 0.3,
# head dropout 0.3, label smoothing 0.1) on a 2-core-CPU schedule of 20 epochs.
#   python tools/train.py configs/gfp/finetune_synthetic_xsub.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/demo/pretrain/epoch_60.pth
_base_ = ['./finetune_ntu60_xsub.py']

ann_file = 'data/skeleton/synthetic_ntu.pkl'
width = 64
num_classes = 10
max_epochs = 20
warmup_epochs = 2

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
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=1e-5 / 3e-4, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
