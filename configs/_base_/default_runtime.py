# MMAction2's runtime (hooks, logging, env) plus gfp_runtime.py: the plugin import and our
# hooks (resumable atomic checkpoints, the non-finite-loss guard, deferred loss logging).
_base_ = ['mmaction::_base_/default_runtime.py', './gfp_runtime.py']

# gfp_runtime.py's hook types, with this project's logging and checkpoint intervals.
default_hooks = dict(
    _base_.gfp_default_hooks,
    logger=dict(type='LoggerHook', interval=50, ignore_last=False),
    checkpoint=dict(_base_.gfp_default_hooks.checkpoint, interval=10, max_keep_ckpts=3,
                    save_last=True, save_best=None))
