# GFP pre-training on NTU-60 cross-view.
_base_ = ['./gfp_ntu60_xsub.py']

ann_file = 'data/skeleton/ntu60_3d.pkl'
train_pipeline = [
    dict(type='CentreOnFirstFrame', joint=1),
    dict(type='ValidCropResize', clip_len=120, p_interval=(0.5, 1.0), min_frames=64),
    dict(type='RandomRotation3D', max_angle=0.3),
    dict(type='FormatGCNInput', num_person=2, mode='zero'),
    dict(type='MotionAwareTokenMasking', mask_ratio=0.9, tau=0.80, patch_len=4),
    dict(type='PackActionInputs', algorithm_keys=('token_mask', )),
]
train_dataloader = dict(
    dataset=dict(ann_file=ann_file, split='xview_train', pipeline=train_pipeline))
