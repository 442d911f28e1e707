# Linear evaluation on NTU-60 cross-subject from 2D keypoints, of the encoder that
# configs/gfp/gfp_ntu60_xsub_2d.py pre-trains (17 COCO-17 joints, x, y + keypoint_score).
#   python tools/train.py configs/gfp/linear_ntu60_xsub_2d.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth
_base_ = [
    '../_base_/models/gfp_linear.py', '../_base_/datasets/ntu60_xsub_cls_2d.py',
    '../_base_/schedules/linear_100e.py', '../_base_/default_runtime.py'
]

pretrained = 'work_dirs/gfp_ntu60_xsub_2d/epoch_400.pth'
model = dict(
    backbone=dict(in_channels=3, num_joints=17, init_cfg=dict(checkpoint=pretrained)))

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2,
                                     save_last=True, save_best='acc/top1', rule='greater'))
