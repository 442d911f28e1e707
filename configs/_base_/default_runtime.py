# MMAction2's runtime (hooks, logging, env) plus the plugin import.
_base_ = 'mmaction::_base_/default_runtime.py'

custom_imports = dict(imports=['gfp_mmaction'], allow_failed_imports=False)

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
default_hooks = dict(
    runtime_info=dict(type='DeferredRuntimeInfoHook'),
    logger=dict(type='LoggerHook', interval=50, ignore_last=False),
    checkpoint=dict(type='ResumableCheckpointHook', interval=10, max_keep_ckpts=3,
                    save_last=True, save_best=None),
    nonfinite_loss=dict(type='NonFiniteLossHook'))
