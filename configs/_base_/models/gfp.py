# GFP (ICCV 2025). Shapes: 2 persons x 120 frames x 25 joints, 4-frame patches ->
# 30 x 25 = 750 tokens per person; 75 stay visible at mask ratio 0.9.
#
# Decided where the paper is silent (see the method notes in the README):
# - decoder depths (2, 1, 1): the cheapest split that keeps the decoder at the paper's
#   budget (1.45 GFLOPs/sample measured with tools/analysis/get_flops.py, paper 1.57);
# - global token = mean of the 25 joint tokens, then an MLP ('mean_mlp'; 'query' is the
#   learned-query alternative);
# - target width C_t = 256 (the encoder's width);
# - TGN input = frame-level motion x[t+1] - x[t] cut into the encoder's patches
#   ('patch' = differences of consecutive patches; source='joints' = the positions);
#   global TGN input = the 25 joints' whole-clip pooled motion, flattened;
# - TGN: pool each window's motion patches, then the MLP (pooling='pool_mlp'; 'mlp_pool'
#   and 'concat' are the alternatives), LayerNorm after each hidden layer (norm='LN');
# - the prediction loss trains the TGN too (stop_grad_targets=False); equal level weights.
# Each choice against its alternatives, 3 seeds each, compared seed by seed: docs/ablations.md
# (tools/analysis/run_ablations.py). Motion input and joint training are confirmed (13.9
# and 7.0 points ahead); no alternative beats the other defaults beyond the noise.
patch_len = 4
num_frames = 120
num_joints = 25
pool_kernels = (5, 10, 30)   # patch rows per token at the three local levels
target_dims = 256

model = dict(
    type='GFP',
    backbone=dict(
        type='SkeletonTransformer', in_channels=3, num_frames=num_frames,
        num_joints=num_joints, patch_len=patch_len, embed_dims=256, depth=8, num_heads=8,
        mlp_ratio=4.0),
    neck=dict(
        type='HierarchicalDecoder', in_dims=256, embed_dims=256,
        num_rows=num_frames // patch_len, num_joints=num_joints, pool_kernels=pool_kernels,
        depths=(2, 1, 1), num_heads=8, target_dims=target_dims, global_token='mean_mlp'),
    target_generator=dict(
        type='MotionTargetGenerator', in_channels=3, num_joints=num_joints,
        patch_len=patch_len, pool_kernels=pool_kernels, target_dims=target_dims,
        local_hidden=512, global_hidden=2048, num_layers=3, motion='frame',
        global_input='flatten', norm='LN', pooling='pool_mlp', source='motion'),
    head=dict(
        type='GFPHead',
        prediction_loss=dict(type='MultiLevelMSELoss', loss_weight=5.0),
        # L_var / L_cov use batch statistics: gather_distributed=True computes them over
        # the whole batch of all processes (W GPUs x B/W = 1 GPU x B); False = per process.
        regularizer=dict(type='VarianceCovarianceLoss', var_weight=1.0, cov_weight=5.0,
                         eps=1e-4, gather_distributed=True),
        stop_grad_targets=False))

# Collapse monitor: every 50 iterations, the spread (mean per-dimension std) and effective
# rank of each target level and of the encoder output, logged to the logger and to every
# visualisation backend; a loud warning the first time a std falls below the threshold.
custom_hooks = [dict(type='CollapseMonitorHook', interval=50, std_threshold=0.05)]
