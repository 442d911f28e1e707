# GFP pre-training on NTU-60 cross-subject: 400 epochs, batch 128, one GPU.
#   python tools/train.py configs/gfp/gfp_ntu60_xsub.py
_base_ = [
    '../_base_/models/gfp.py', '../_base_/datasets/pretrain_zero_pad.py',
    '../_base_/schedules/pretrain_400e.py', '../_base_/default_runtime.py'
]
