# Linear evaluation of GFP on NTU-120 cross-subject (paper: 79.1 top-1): the encoder
# frozen in eval mode, MAMP's probe head (BatchNorm without affine + linear) trained.
#   python tools/train.py configs/gfp/linear_ntu120_xsub.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu120_xsub/epoch_400.pth
_base_ = [
    '../_base_/models/gfp_linear.py', '../_base_/datasets/ntu120_xsub_cls.py',
    '../_base_/schedules/linear_100e.py', '../_base_/default_runtime.py'
]

pretrained = 'work_dirs/gfp_ntu120_xsub/epoch_400.pth'
num_classes = 120
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(num_classes=num_classes))

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2, save_last=True,
                                     save_best='acc/top1', rule='greater'))
