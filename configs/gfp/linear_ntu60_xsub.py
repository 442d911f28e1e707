# Linear evaluation of GFP on NTU-60 cross-subject (paper: 85.9 top-1).
#   python tools/train.py configs/gfp/linear_ntu60_xsub.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth
_base_ = [
    '../_base_/models/gfp_linear.py', '../_base_/datasets/ntu60_xsub_cls.py',
    '../_base_/schedules/linear_100e.py', '../_base_/default_runtime.py'
]

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2,
                                     save_last=True, save_best='acc/top1', rule='greater'))
