# NTU RGB+D 120, cross-setup (even setups train, odd ones evaluate), labelled data for
# the downstream protocols; preprocessing as ntu60_xsub_cls.py except that a single
# actor is duplicated (FormatGCNInput 'loop').
_base_ = ['./ntu60_xsub_cls.py']

ann_file = 'data/skeleton/ntu120_3d.pkl'
num_person_mode = 'loop'
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
    dataset=dict(ann_file=ann_file, split='xset_train', pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file, split='xset_val', pipeline=test_pipeline))
test_dataloader = val_dataloader
