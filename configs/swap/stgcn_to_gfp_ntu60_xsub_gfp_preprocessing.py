# stgcn_to_gfp_ntu60_xsub.py (MMAction2's ST-GCN recipe with the GFP encoder: its model
# head, SGD schedule, dataset repetition, evaluation) with the clips preprocessed as the
# encoder saw them in pre-training (configs/_base_/datasets/pretrain_zero_pad.py):
# centred on joint 1 (spine-middle) of the first frame with a body, NOT rotated to a
# canonical view (MMAction2's PreNormalize3D does that), the valid frames crop-resized to
# 120 (not 100 frames sampled uniformly). Training draws a 50-100 % crop and a rotation of
# up to 0.3 rad per axis, as pre-training does; testing takes one 95 % centre crop
# (MAMP's evaluation crop) instead of 10 uniformly sampled clips.
# SkeletonPoseDataset is MMAction2's PoseDataset plus the validation at load (and
# float32 keypoints, whatever the pickle stores: MMAction2's own ntu60_3d.pkl is float16).
#   python tools/train.py configs/swap/stgcn_to_gfp_ntu60_xsub_gfp_preprocessing.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu60_xsub/epoch_400.pth
_base_ = ['./stgcn_to_gfp_ntu60_xsub.py']

clip_len = 120  # the pre-training's
train_pipeline = [
    dict(type='CentreOnFirstFrame', joint=1),
    dict(type='ValidCropResize', clip_len=clip_len, p_interval=(0.5, 1.0), min_frames=64),
    dict(type='RandomRotation3D', max_angle=0.3),
    dict(type='FormatGCNInput', num_person=2, mode='zero'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='CentreOnFirstFrame', joint=1),
    dict(type='ValidCropResize', clip_len=clip_len, p_interval=(0.95, )),
    dict(type='FormatGCNInput', num_person=2, mode='zero'),
    dict(type='PackActionInputs'),
]
val_pipeline = test_pipeline

model = dict(backbone=dict(num_frames=clip_len))
train_dataloader = dict(
    dataset=dict(dataset=dict(type='SkeletonPoseDataset', pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(type='SkeletonPoseDataset', pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(type='SkeletonPoseDataset', pipeline=test_pipeline))
