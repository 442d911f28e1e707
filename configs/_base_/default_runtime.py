# MMAction2's runtime (hooks, logging, env) plus the plugin import.
_base_ = 'mmaction::_base_/default_runtime.py'

custom_imports = dict(imports=['gfp_mmaction'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, ignore_last=False),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3, save_last=True,
                    save_best=None))
