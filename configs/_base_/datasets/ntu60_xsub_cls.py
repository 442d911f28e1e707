# NTU RGB+D 60, cross-subject, labelled data for the downstream protocols (linear probe,
# fine-tune, retrieval), preprocessed as MAMP evaluates: random 50-100 % crop + rotation
# for training, 95 % centre crop for testing, 120 frames, 2 persons.
dataset_type = 'SkeletonPoseDataset'  # PoseDataset + validation at load (docs/robustness.md)
ann_file = 'data/skeleton/ntu60_3d.pkl'
num_person_mode = 'zero'

train_pipeline = [
    dict(type='CentreOnFirstFrame', joint=1),
    dict(type='ValidCropResize', clip_len=120, p_interval=(0.5, 1.0), min_frames=64),
    dict(type='RandomRotation3D', max_angle=0.3),
    dict(type='FormatGCNInput', num_person=2, mode=num_person_mode),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='CentreOnFirstFrame', joint=1),
    dict(type='ValidCropResize', clip_len=120, p_interval=(0.95, )),
    dict(type='FormatGCNInput', num_person=2, mode=num_person_mode),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, ann_file=ann_file, split='xsub_train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, ann_file=ann_file, split='xsub_val', pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = [dict(type='AccMetric')]
test_evaluator = val_evaluator
