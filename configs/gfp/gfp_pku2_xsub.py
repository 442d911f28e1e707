# GFP pre-training on PKU-MMD phase II cross-subject.
_base_ = [
    '../_base_/models/gfp.py', '../_base_/datasets/pretrain_zero_pad.py',
    '../_base_/schedules/pretrain_400e.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(ann_file='data/skeleton/pku_v2_3d.pkl', split='xsub_train'))
