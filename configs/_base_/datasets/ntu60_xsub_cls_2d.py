# NTU RGB+D 60 cross-subject from 2D keypoints (MMAction2's ntu60_2d.pkl: COCO-17, x, y +
# keypoint_score), labelled data for the downstream protocols, preprocessed as the 2D
# pre-training (pretrain_zero_pad_2d.py) and as MAMP evaluates: random 50-100 % crop +
# in-plane rotation for training, 95 % centre crop for testing, 120 frames, 2 persons.
# FormatGCNInput appends the keypoint_score as the third channel (x, y, score), the input
# of the 2D pre-trained encoder.
_base_ = ['./ntu60_xsub_cls.py']

ann_file = 'data/skeleton/ntu60_2d.pkl'
layout = 'coco17'
centre_joint = 11  # get_layout('coco17').centre_joint: the left hip

train_pipeline = [
    dict(type='CentreOnFirstFrame', joint=centre_joint),
    dict(type='ValidCropResize', clip_len=120, p_interval=(0.5, 1.0), min_frames=64),
    dict(type='RandomRotation2D', max_angle=0.3),
    dict(type='FormatGCNInput', num_person=2, mode='zero'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='CentreOnFirstFrame', joint=centre_joint),
    dict(type='ValidCropResize', clip_len=120, p_interval=(0.95, )),
    dict(type='FormatGCNInput', num_person=2, mode='zero'),
    dict(type='PackActionInputs'),
]

# The 2D reading of every split, as in pre-training: 17 joints, x and y in pixels divided
# by half the image height, the score kept for FormatGCNInput (with_score=True: every
# clip must carry one).
train_dataloader = dict(
    dataset=dict(ann_file=ann_file, pipeline=train_pipeline, layout=layout, num_coords=2,
                 with_score=True, normalize_2d='half_height'))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file, pipeline=test_pipeline, layout=layout, num_coords=2,
                 with_score=True, normalize_2d='half_height'))
test_dataloader = val_dataloader
