# GFP pre-training on NTU-60 cross-view.
_base_ = [
    '../_base_/models/gfp.py', '../_base_/datasets/pretrain_zero_pad.py',
    '../_base_/schedules/pretrain_400e.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(ann_file='data/skeleton/ntu60_3d.pkl', split='xview_train'))
