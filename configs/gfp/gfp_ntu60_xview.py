# GFP pre-training on NTU-60 cross-view.
# train_dataloader.batch_size is per GPU (process): 128 = the recipe's total on one GPU.
# On N GPUs keep the total at 128 (L_var / L_cov are computed over the whole batch of
# all GPUs, so 4 x 32 trains the same objective as 1 x 128):
#   python tools/train.py configs/gfp/gfp_ntu60_xview.py
#   bash tools/dist_train.sh configs/gfp/gfp_ntu60_xview.py 4 --cfg-options train_dataloader.batch_size=32
# Another total batch changes the recipe; add --auto-scale-lr to scale the lr (base 128).
_base_ = [
    '../_base_/models/gfp.py', '../_base_/datasets/pretrain_zero_pad.py',
    '../_base_/schedules/pretrain_400e.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(ann_file='data/skeleton/ntu60_3d.pkl', split='xview_train'))
