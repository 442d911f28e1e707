# MAMP baseline pre-training on NTU-60 cross-view: the LIKE-FOR-LIKE baseline, i.e. MAMP's
# method with every setting GFP uses, so that the two differ only in the target:
# same encoder, data path (a single actor gets a zero second body, motion-aware masking tau 0.80),
# 75 visible tokens of 750, recipe (400 epochs, total batch 128, AdamW (0.9, 0.95), wd 0.05,
# lr 1e-3, 20 warm-up epochs, half-cosine to 5e-4), a 5-block decoder (GFP's FLOP table)
# and padded (all-zero) persons left out of the loss.
# MAMP as its authors ran it is configs/mamp/mamp_published_ntu60_xview.py.
#
# train_dataloader.batch_size is per GPU (process); the recipe's 128 is the total. On 4 GPUs:
#   bash tools/dist_train.sh configs/mamp/mamp_ntu60_xview.py 4 --cfg-options train_dataloader.batch_size=32
_base_ = [
    '../_base_/models/mamp.py', '../_base_/datasets/pretrain_zero_pad.py',
    '../_base_/schedules/pretrain_400e.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(ann_file='data/skeleton/ntu60_3d.pkl', split='xview_train'))
