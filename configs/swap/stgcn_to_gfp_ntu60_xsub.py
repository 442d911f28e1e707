# MMAction2's own ST-GCN recipe for NTU-60 x-sub (joint stream, SGD, GCNHead, its data
# pipeline) with ST-GCN replaced by the GFP encoder; the model is all that changes, plus
# our runtime fragment (the plugin import, resumable atomic checkpoints, the non-finite
# loss guard: ../_base_/gfp_runtime.py).
# The encoder returns MMAction2's GCN layout (N, M, C, T', V), C = 256 = the GCNHead's
# in_channels. What the backbone strictly needs: the plugin import (to register it), its
# clip length (num_frames=100: the recipe's UniformSampleFrames(clip_len=100); the
# 120-frame pre-training's temporal position table is resized to 25 rows when it loads)
# and, to start from GFP pre-training, `init_cfg` (set it to None for a random start).
#
# Know what this recipe feeds the encoder: MMAction2's PreNormalize3D centres each clip on
# the spine joint of its first frame AND rotates it (hip-spine bone to the z axis,
# shoulders to the x axis), and UniformSampleFrames takes 100 frames spread over the
# whole clip. The encoder was pre-trained on first-frame-centred, unrotated 120-frame
# crop-resized clips: a different view and frame rate of the same motion. Fine-tuning
# adapts to it, but a frozen encoder (linear probe, retrieval) sees inputs unlike its
# pre-training. stgcn_to_gfp_ntu60_xsub_gfp_preprocessing.py is this recipe with the
# pre-training's preprocessing instead (docs/protocols.md).
#   python tools/train.py configs/swap/stgcn_to_gfp_ntu60_xsub.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu60_xsub/epoch_400.pth
_base_ = ['mmaction::skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py',
          '../_base_/gfp_runtime.py']

# The recipe's hooks, with our checkpoint / runtime-info types and the non-finite-loss
# guard (MMEngine merges this into the recipe's `default_hooks`).
default_hooks = _base_.gfp_default_hooks

pretrained = 'work_dirs/gfp_ntu60_xsub/epoch_400.pth'
model = dict(
    backbone=dict(
        _delete_=True, type='SkeletonTransformer', in_channels=3, num_frames=100,
        num_joints=25, patch_len=4, embed_dims=256, depth=8, num_heads=8, mlp_ratio=4.0,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
