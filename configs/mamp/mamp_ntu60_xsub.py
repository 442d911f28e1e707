# MAMP baseline pre-training on NTU-60 cross-subject, same data path and recipe as GFP.
_base_ = [
    '../_base_/models/mamp.py', '../_base_/datasets/pretrain_zero_pad.py',
    '../_base_/schedules/pretrain_400e.py', '../_base_/default_runtime.py'
]
