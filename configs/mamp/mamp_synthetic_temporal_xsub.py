# The like-for-like MAMP baseline on the synthetic `temporal` preset: the encoder, data
# path, masking and recipe of configs/gfp/gfp_synthetic_temporal_xsub.py, MAMP's target
# (normalised motion of the masked tokens) and decoder (3 blocks at the demo width) instead
# of GFP's. tools/analysis/run_ablations.py gives it the same wall time as GFP.
_base_ = ['../gfp/gfp_synthetic_temporal_xsub.py']

width = 64
model = dict(
    _delete_=True,
    type='MAMP',
    backbone=dict(
        type='SkeletonTransformer', in_channels=3, num_frames=120, num_joints=25,
        patch_len=4, embed_dims=width, depth=4, num_heads=4, mlp_ratio=4.0),
    neck=dict(
        type='MAMPDecoder', in_dims=width, embed_dims=width, num_rows=30, num_joints=25,
        depth=3, num_heads=4, out_dims=4 * 3),
    head=dict(type='MAMPHead', norm_target=True, count_padded_persons=False))
custom_hooks = []
