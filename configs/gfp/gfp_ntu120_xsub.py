# GFP pre-training on NTU-120 cross-subject.
_base_ = [
    '../_base_/models/gfp.py', '../_base_/datasets/pretrain_duplicate_pad.py',
    '../_base_/schedules/pretrain_400e.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(ann_file='data/skeleton/ntu120_3d.pkl', split='xsub_train'))
