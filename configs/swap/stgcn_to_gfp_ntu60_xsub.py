# MMAction2's own ST-GCN recipe for NTU-60 x-sub (joint stream, 100 uniformly sampled
# frames, SGD, GCNHead) with ST-GCN replaced by the GFP encoder, and nothing else changed.
# The encoder returns MMAction2's GCN layout (N, M, C, T', V), C = 256 = the GCNHead's
# in_channels. What the backbone strictly needs: the plugin import (to register it), its
# clip length (num_frames=100: the recipe's UniformSampleFrames(clip_len=100); the
# 120-frame pre-training's temporal position table is resized to 25 rows when it loads)
# and, to start from GFP pre-training, `init_cfg` (set it to None for a random start).
#   python tools/train.py configs/swap/stgcn_to_gfp_ntu60_xsub.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu60_xsub/epoch_400.pth
_base_ = 'mmaction::skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py'

custom_imports = dict(imports=['gfp_mmaction'], allow_failed_imports=False)

pretrained = 'work_dirs/gfp_ntu60_xsub/epoch_400.pth'
model = dict(
    backbone=dict(
        _delete_=True, type='SkeletonTransformer', in_channels=3, num_frames=100,
        num_joints=25, patch_len=4, embed_dims=256, depth=8, num_heads=8, mlp_ratio=4.0,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
