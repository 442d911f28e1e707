# GFP pre-training on NTU-60 cross-subject from 2D keypoints: MMAction2's ntu60_2d.pkl
# (MMPose's COCO-17 keypoints, 17 joints, x, y + keypoint_score). The recipe of
# gfp_ntu60_xsub.py (400 epochs, total batch 128, the same GFP model) with the 2D data
# path of ../_base_/datasets/pretrain_zero_pad_2d.py.
#   python tools/data/check_skeleton_pkl.py data/skeleton/ntu60_2d.pkl --num-classes 60
#   python tools/train.py configs/gfp/gfp_ntu60_xsub_2d.py
# Tokens: 30 patch rows x 17 joints = 510 per person, 51 visible at mask ratio 0.9; the
# decoder's levels hold 102 / 51 / 17 / 1 tokens (the paper's 150 / 75 / 25 / 1 with 17
# joints instead of 25).
# train_dataloader.batch_size is per GPU (process): 128 = the recipe's total on one GPU;
# on 4 GPUs keep the total with --cfg-options train_dataloader.batch_size=32.
_base_ = [
    '../_base_/models/gfp.py', '../_base_/datasets/pretrain_zero_pad_2d.py',
    '../_base_/schedules/pretrain_400e.py', '../_base_/default_runtime.py'
]

num_joints = 17    # the 'coco17' layout
in_channels = 3    # x, y and keypoint_score (the dataset's with_score=True)

model = dict(
    backbone=dict(in_channels=in_channels, num_joints=num_joints),
    neck=dict(num_joints=num_joints),
    target_generator=dict(in_channels=in_channels, num_joints=num_joints))
