# MAMP's fine-tuning recipe: AdamW (0.9, 0.999), weight decay 0.05 except 1-D parameters,
# layer-wise lr decay 0.8, lr 3e-4 for batch 48, 5 linear warm-up epochs, then a
# per-iteration cosine to 1e-5 (every layer's lr keeps its decay factor down to the end:
# eta_min_ratio), 100 epochs.
max_epochs = 100
warmup_epochs = 5
base_lr = 3e-4
min_lr = 1e-5

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.8))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=min_lr / base_lr, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
                 val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

auto_scale_lr = dict(enable=False, base_batch_size=48)
