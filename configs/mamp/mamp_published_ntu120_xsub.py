# MAMP pre-training on NTU-120 cross-subject AS PUBLISHED: what MAMP's own code and scripts run
# (github.com/maoyunyao/MAMP: config/ntu120_xsub_joint/pretrain_mamp_t120_layer8+5_mask90.yaml,
# script_pretrain_mamp.sh). The like-for-like baseline (MAMP with GFP's settings) is
# configs/mamp/mamp_ntu120_xsub.py; this config differs from it only where MAMP's code does:
# - decoder depth 5 (MAMP's NTU-120 / PKU-MMD scripts; the same as like-for-like);
# - the loss counts padded (all-zero) persons: MAMP averages over the masked tokens of
#   all N x M sequences, the zero second body of a single-actor clip included;
# - int(750 x (1 - 0.9)) = 74 visible tokens (MAMP's int() of a float just below 75), not 75;
# - the decoder's mask token is weight-decayed (MAMP's is a (1, 1, D) tensor, which its
#   "no decay on 1-D parameters" rule does not exempt; here it is 1-D).
# Same as MAMP: encoder 8 x 256, tau 0.75, data path, 400 epochs, AdamW (0.9, 0.95), wd 0.05,
# lr 1e-3 (absolute) for a total batch of 128 with 20 warm-up epochs and a half-cosine to
# 5e-4. MAMP ran 4 GPUs x 32; the loss is then an exact mean over the whole batch (every
# sequence counts, fixed visible count), so 1 GPU x 128 trains the same objective.
# train_dataloader.batch_size is per GPU (process): on 4 GPUs keep the total at 128 with
#   bash tools/dist_train.sh configs/mamp/mamp_published_ntu120_xsub.py 4 --cfg-options train_dataloader.batch_size=32
_base_ = ['./mamp_ntu120_xsub.py']

model = dict(neck=dict(depth=5), head=dict(count_padded_persons=True))
data_preprocessor = dict(visible_rounding='floor')
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'mask_token': dict(decay_mult=1.0)}))
