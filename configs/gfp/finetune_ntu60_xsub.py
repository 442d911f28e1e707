# Fine-tuning GFP end to end on NTU-60 cross-subject (MAMP's recipe: layer-wise lr decay 0.8,
# drop-path 0.3, head dropout 0.3, label smoothing 0.1, batch 48, 100 epochs).
#   python tools/train.py configs/gfp/finetune_ntu60_xsub.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu60_xsub/epoch_400.pth
_base_ = [
    '../_base_/models/gfp_finetune.py', '../_base_/datasets/ntu60_xsub_cls.py',
    '../_base_/schedules/finetune_100e.py', '../_base_/default_runtime.py'
]

pretrained = 'work_dirs/gfp_ntu60_xsub/epoch_400.pth'
num_classes = 60
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(num_classes=num_classes))

train_dataloader = dict(batch_size=48)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2, save_last=True,
                                     save_best='acc/top1', rule='greater'))
