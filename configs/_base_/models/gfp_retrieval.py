# Retrieval with frozen features: the encoder, then the pooled feature (mean over persons,
# time and joints, the linear probe's input) stored on every sample. No training: run
#   python tools/test.py CONFIG PRETRAINED.pth
# where PRETRAINED.pth is a pre-training checkpoint (its 'backbone.*' weights are loaded).
model = dict(
    type='RecognizerGCN',
    data_preprocessor=dict(type='ActionDataPreprocessor'),
    backbone=dict(
        type='SkeletonTransformer', in_channels=3, num_frames=120, num_joints=25,
        patch_len=4, embed_dims=256, depth=8, num_heads=8, mlp_ratio=4.0, frozen=True),
    cls_head=dict(type='PooledFeatureHead'))
