# Pre-training data path (MAMP's preprocessing) for datasets that pad a single actor with
# a zero second body (NTU-60, PKU-MMD), motion-aware masking with tau 0.80. Experiment
# configs set only the annotation file and split. Default: NTU-60 cross-subject; prepare
# data/skeleton/ntu60_3d.pkl as described in docs/data_preparation.md.
dataset_type = 'SkeletonPoseDataset'  # PoseDataset + validation at load (docs/robustness.md)
ann_file = 'data/skeleton/ntu60_3d.pkl'
train_split = 'xsub_train'
num_person_mode = 'zero'   # NTU-60: a single actor gets a zero second body
mask_ratio = 0.9
motion_aware_tau = 0.80

train_pipeline = [
    dict(type='CentreOnFirstFrame', joint=1),
    dict(type='ValidCropResize', clip_len=120, p_interval=(0.5, 1.0), min_frames=64),
    dict(type='RandomRotation3D', max_angle=0.3),
    dict(type='FormatGCNInput', num_person=2, mode=num_person_mode),
    dict(type='MotionAwareTokenMasking', mask_ratio=mask_ratio, tau=motion_aware_tau,
         patch_len=4),
    dict(type='PackActionInputs', algorithm_keys=('token_mask', )),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, ann_file=ann_file, split=train_split, pipeline=train_pipeline))
