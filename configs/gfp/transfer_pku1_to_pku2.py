# Transfer learning: fine-tune on PKU-MMD II cross-subject (finetune_pku2_xsub.py) from an
# encoder pre-trained on PKU-MMD I cross-subject (configs/gfp/gfp_pku1_xsub.py).
#   python tools/train.py configs/gfp/transfer_pku1_to_pku2.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_pku1_xsub/epoch_400.pth
_base_ = ['./finetune_pku2_xsub.py']

pretrained = 'work_dirs/gfp_pku1_xsub/epoch_400.pth'
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))
