# The pre-training data path of pretrain_zero_pad.py for 2D keypoints: MMAction2's
# NTU-60 2D pickle (data/skeleton/ntu60_2d.pkl: the COCO-17 keypoints MMPose's HRNet
# estimates on the NTU videos, pixels, with a keypoint_score per joint), zero-padded
# second body, motion-aware masking with tau 0.80. Prepare / check the file as
# docs/data_preparation.md ("2D keypoints") says.
#
# What changes against the 3D path, and why:
# - the joints: the 'coco17' layout (gfp_mmaction/utils/joint_layouts.py), 17 per person;
# - the channels: x, y and the score. The dataset appends keypoint_score as a third
#   channel (with_score=True), as MMAction2's FormatGCNInput / GenSkeFeat feed its 2D
#   recipes, so a GFP encoder pre-trained here takes the same (x, y, score) input as
#   MMAction2's 2D ST-GCN recipe (configs/swap/stgcn_to_gfp_ntu60_xsub_2d.py). The
#   preprocessor centres and rotates only the 2 coordinates (coord_dims=2); the score is
#   cropped and resized with the clip;
# - the scale: pixels divided by half the image height (normalize_2d='half_height':
#   x / 540, y / 540 for NTU's 1920 x 1080 video; a person 3 m from the camera is then
#   about 1 unit tall, near the 3D skeletons' metres). One scale for both axes keeps the
#   body's proportions, so the in-plane rotation turns it as the camera would;
#   'half_size' is MMAction2's PreNormalize2D scale (x / 960), which squeezes it;
# - the centre: joint 11, COCO-17's left hip (the 'coco17' layout's centre_joint: the
#   joint nearest the body's centre; COCO-17 has no spine joint);
# - the rotation: one angle in the image plane, about the image normal (rotation='2d'),
#   up to 0.3 rad as MAMP's per-axis 3D angles.
_base_ = ['./pretrain_zero_pad.py']

ann_file = 'data/skeleton/ntu60_2d.pkl'
layout = 'coco17'
centre_joint = 11  # get_layout('coco17').centre_joint

data_preprocessor = dict(centre_joint=centre_joint, coord_dims=2, rotation='2d')

train_dataloader = dict(
    dataset=dict(ann_file=ann_file, layout=layout, num_coords=2, with_score=True,
                 normalize_2d='half_height'))
