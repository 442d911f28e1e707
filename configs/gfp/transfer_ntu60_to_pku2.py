# Transfer learning: fine-tune on PKU-MMD II cross-subject (finetune_pku2_xsub.py) from an
# encoder pre-trained on NTU-60 cross-subject (configs/gfp/gfp_ntu60_xsub.py).
#   python tools/train.py configs/gfp/transfer_ntu60_to_pku2.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/gfp_ntu60_xsub/epoch_400.pth
_base_ = ['./finetune_pku2_xsub.py']

pretrained = 'work_dirs/gfp_ntu60_xsub/epoch_400.pth'
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))
