# MAMP's pre-training recipe, kept by GFP: AdamW (0.9, 0.95), wd 0.05 except biases and
# 1-D parameters, lr 1e-3 for batch 128, 20 linear warm-up epochs, then a per-iteration
# half-cosine to 5e-4; no gradient clipping. --amp switches to bf16/fp16 autocast.
max_epochs = 400
warmup_epochs = 20

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(bias_decay_mult=0.0, norm_decay_mult=0.0, flat_decay_mult=0.0))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=5e-4,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
val_cfg = None
test_cfg = None
val_dataloader = None
test_dataloader = None
val_evaluator = None
test_evaluator = None

# The lr above is for a total batch of 128; --auto-scale-lr follows the real one.
auto_scale_lr = dict(enable=False, base_batch_size=128)
