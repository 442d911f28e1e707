# Linear evaluation of a pre-trained encoder: frozen and in eval mode (no gradient, no
# weight decay, no normalisation statistics touch it), MAMP's probe head on top.
# Point `model.backbone.init_cfg.checkpoint` at a pre-training checkpoint, e.g.
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu60_xsub/epoch_400.pth
pretrained = 'work_dirs/gfp_ntu60_xsub/epoch_400.pth'
num_classes = 60

model = dict(
    type='RecognizerGCN',
    data_preprocessor=dict(type='ActionDataPreprocessor'),
    backbone=dict(
        type='SkeletonTransformer', in_channels=3, num_frames=120, num_joints=25,
        patch_len=4, embed_dims=256, depth=8, num_heads=8, mlp_ratio=4.0, frozen=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(type='LinearProbeHead', num_classes=num_classes, in_channels=256))
