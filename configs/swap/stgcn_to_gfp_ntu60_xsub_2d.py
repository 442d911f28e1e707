# MMAction2's own 2D ST-GCN recipe for NTU-60 x-sub (joint stream on MMPose's COCO-17
# keypoints, ntu60_2d.pkl; SGD, GCNHead, its data pipeline) with ST-GCN replaced by the
# GFP encoder pre-trained by configs/gfp/gfp_ntu60_xsub_2d.py; the model is all that
# changes, plus our runtime fragment (../_base_/gfp_runtime.py), as in
# stgcn_to_gfp_ntu60_xsub.py for 3D.
# The recipe's GenSkeFeat(dataset='coco', feats=['j']) appends keypoint_score to x, y:
# in_channels=3, the channels of the 2D pre-training (with_score=True); 17 joints; its
# UniformSampleFrames(clip_len=100): num_frames=100 (the 120-frame pre-training's
# temporal position table is resized to 25 rows when it loads).
#
# Know what this recipe feeds the encoder: PreNormalize2D shifts the pixels to the image
# centre and divides x by half the image width, y by half its height, and
# UniformSampleFrames takes 100 frames spread over the whole clip. The pre-training
# divided both by half the height (normalize_2d='half_height': x is 16/9 of the recipe's
# on NTU's video), centred each clip on the left hip of its first frame, rotated it in
# the image plane and crop-resized the valid frames to 120: a different origin, aspect
# and frame rate of the same motion. Fine-tuning adapts; a frozen encoder sees inputs
# unlike its pre-training (docs/protocols.md).
#   python tools/train.py configs/swap/stgcn_to_gfp_ntu60_xsub_2d.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu60_xsub_2d/epoch_400.pth
_base_ = ['mmaction::skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py',
          '../_base_/gfp_runtime.py']

# The recipe's hooks, with our checkpoint / runtime-info types and the non-finite-loss
# guard (MMEngine merges this into the recipe's `default_hooks`).
default_hooks = _base_.gfp_default_hooks

pretrained = 'work_dirs/gfp_ntu60_xsub_2d/epoch_400.pth'
model = dict(
    backbone=dict(
        _delete_=True, type='SkeletonTransformer', in_channels=3, num_frames=100,
        num_joints=17, patch_len=4, embed_dims=256, depth=8, num_heads=8, mlp_ratio=4.0,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
