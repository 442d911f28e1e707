"""Loss terms read on the host at the logging interval, not every iteration."""
from typing import Dict, List, Optional

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import LoggerHook, RuntimeInfoHook

__all__ = ['DeferredRuntimeInfoHook', 'logging_interval']


def logging_interval(runner, default: int = 50) -> int:
    """The ``interval`` of the runner's ``LoggerHook`` (``default`` without one)."""
    loggers = [hook for hook in runner.hooks if isinstance(hook, LoggerHook)]
    return loggers[0].interval if loggers else default


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """MMEngine's ``RuntimeInfoHook`` whose per-iteration loss terms stay on the device.

    MMEngine's hook hands every logged loss term to the message hub each iteration, and
    the message hub calls ``.item()`` on it: the host waits for the whole step before it
    can queue the next one. This hook keeps the terms (detached device tensors) and, at
    the logging interval, at the end of every epoch, before every checkpoint and at the
    end of training, copies all of them to the host in one transfer and adds them to the
    message hub in iteration order. The message hub, and so every logged figure and every
    checkpoint, hold exactly what MMEngine's hook would have put there.

    Use it in place of MMEngine's: ``default_hooks = dict(runtime_info=dict(
    type='DeferredRuntimeInfoHook'))``.

    Args:
        interval (int, optional): iterations between transfers; None = the
            ``LoggerHook``'s interval.
    """

    def __init__(self, interval: Optional[int] = None) -> None:
        if interval is not None and (not isinstance(interval, int) or interval < 1):
            raise ValueError(f'DeferredRuntimeInfoHook: interval must be a positive int or '
                             f'None, got {interval!r}')
        self.interval = interval
        self._pending: List[Dict[str, torch.Tensor]] = []

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.interval is None:
            self.interval = logging_interval(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if outputs is not None:
            self._pending.append({key: value.detach() if isinstance(value, torch.Tensor)
                                  else value for key, value in outputs.items()})
        # Where LoggerHook logs: every `interval` batches of an epoch and at its end.
        if self.every_n_inner_iters(batch_idx, self.interval) or \
                self.end_of_epoch(runner.train_dataloader, batch_idx):
            self.flush(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # The message hub is saved in the checkpoint: it must be complete.
        self.flush(runner)

    def after_train_epoch(self, runner) -> None:
        self.flush(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)

    def flush(self, runner) -> None:
        """Move the pending loss terms to the message hub (one device-to-host copy)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        tensors = [v.float().mean() for step in pending for v in step.values()
                   if isinstance(v, torch.Tensor)]
        host = iter(torch.stack(tensors).cpu().tolist()) if tensors else iter(())
        for step in pending:
            for key, value in step.items():
                value = next(host) if isinstance(value, torch.Tensor) else value
                runner.message_hub.update_scalar(f'train/{key}', value)
