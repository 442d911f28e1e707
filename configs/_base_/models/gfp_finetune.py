# End-to-end fine-tuning of a pre-trained encoder (MAMP's recipe): stochastic depth 0.3
# in the encoder, the joint-aware fine-tune head (dropout 0.3 on the encoder features,
# 25 x 256 = 6400 -> 2048 -> classes), label smoothing 0.1.
# Point `model.backbone.init_cfg.checkpoint` at a pre-training checkpoint, e.g.
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu60_xsub/epoch_400.pth
# A checkpoint without every encoder weight under 'backbone.' stops the run with an error.
pretrained = 'work_dirs/gfp_ntu60_xsub/epoch_400.pth'
num_classes = 60

model = dict(
    type='RecognizerGCN',
    data_preprocessor=dict(type='ActionDataPreprocessor'),
    backbone=dict(
        type='SkeletonTransformer', in_channels=3, num_frames=120, num_joints=25,
        patch_len=4, embed_dims=256, depth=8, num_heads=8, mlp_ratio=4.0,
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(
        type='FinetuneHead', num_classes=num_classes, in_channels=256, num_joints=25,
        hidden_dims=2048, dropout=0.3, label_smooth_eps=0.1))
