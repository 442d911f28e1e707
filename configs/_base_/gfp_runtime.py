# What every config that trains with gfp-mmaction needs on top of an MMAction2 runtime:
# the plugin import and our hooks. Inherited by configs/_base_/default_runtime.py (every
# GFP / MAMP config) and by configs/swap/* (MMAction2's own recipes); use it in your own
# MMAction2 config the same way:
#
#   _base_ = ['mmaction::skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py',
#             'PATH/TO/gfp-mmaction/configs/_base_/gfp_runtime.py']
#   default_hooks = _base_.gfp_default_hooks
#
# MMEngine refuses a key that two bases of one config both define, and every MMAction2
# recipe already defines `default_hooks`; so the hooks are kept here under their own name
# and the inheriting config assigns them in the line above. MMEngine then merges them into
# the recipe's `default_hooks` key by key: only the hook types change, the recipe's
# arguments (checkpoint interval, save_best, logger interval, ...) stay.
#
# ResumableCheckpointHook = MMEngine's CheckpointHook (same arguments) + random states and
# sampler seed in every checkpoint, so that `--resume` continues the interrupted run
# exactly, + crash-safe writes (atomic checkpoint and `last_checkpoint`, old checkpoints
# deleted only after the new one is complete). See docs/distributed.md.
# NonFiniteLossHook stops the run at the first NaN / inf loss, before anything is saved
# after it (docs/robustness.md).
# DeferredRuntimeInfoHook = MMEngine's RuntimeInfoHook without the per-iteration `.item()`
# of every loss term: the terms stay on the device and reach the message hub (the log,
# the checkpoints) at the logging interval, in one transfer; NonFiniteLossHook checks them
# at the same points. Nothing in a training step waits for the GPU.
custom_imports = dict(imports=['gfp_mmaction'], allow_failed_imports=False)

gfp_default_hooks = dict(
    runtime_info=dict(type='DeferredRuntimeInfoHook'),
    checkpoint=dict(type='ResumableCheckpointHook'),
    nonfinite_loss=dict(type='NonFiniteLossHook'))
