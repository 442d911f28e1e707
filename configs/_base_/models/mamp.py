# MAMP (ICCV 2023), the baseline: same encoder, a 5-block decoder over all 750 tokens
# regressing each masked token's per-patch-normalised motion.
# Like-for-like with GFP by default: padded (all-zero) persons do not count in the loss
# (count_padded_persons=False). configs/mamp/mamp_published_*.py set what MAMP's own
# scripts run (3 decoder blocks on NTU-60, padded persons counted, 74 visible tokens).
patch_len = 4
num_frames = 120
num_joints = 25

model = dict(
    type='MAMP',
    backbone=dict(
        type='SkeletonTransformer', in_channels=3, num_frames=num_frames,
        num_joints=num_joints, patch_len=patch_len, embed_dims=256, depth=8, num_heads=8,
        mlp_ratio=4.0),
    neck=dict(
        type='MAMPDecoder', in_dims=256, embed_dims=256, num_rows=num_frames // patch_len,
        num_joints=num_joints, depth=5, num_heads=8, out_dims=patch_len * 3),
    head=dict(type='MAMPHead', norm_target=True, count_padded_persons=False))
