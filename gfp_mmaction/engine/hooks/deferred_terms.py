"""Hooks that read the loss terms on the host at the logging interval, not every iteration."""
from typing import Any, List, Optional

from mmengine.hooks import Hook, LoggerHook

__all__ = ['DeferredTermsHook', 'logging_interval']


def logging_interval(runner, default: int = 50) -> int:
    """The ``interval`` of the runner's ``LoggerHook`` (``default`` without one)."""
    loggers = [hook for hook in runner.hooks if isinstance(hook, LoggerHook)]
    return loggers[0].interval if loggers else default


class DeferredTermsHook(Hook):
    """Base of the hooks that keep every training iteration's loss terms on the device and
    handle them on the host in one batch, so that they cost no host sync per step.

    :meth:`keep` says what to hold of an iteration. The held iterations are handed, in
    order, to :meth:`process` (:meth:`flush`) at the logging interval, at the end of
    every epoch, before every checkpoint and at the end of training.

    Args:
        interval (int, optional): iterations between flushes; None = the ``LoggerHook``'s
            interval.
    """

    def __init__(self, interval: Optional[int] = None) -> None:
        if interval is not None and (not isinstance(interval, int) or interval < 1):
            raise ValueError(f'{self.__class__.__name__}: interval must be a positive int or '
                             f'None, got {interval!r}')
        self.interval = interval
        self._pending: List[Any] = []

    def keep(self, runner, batch_idx: int, outputs) -> Optional[Any]:
        """What to hold of this iteration's ``outputs`` (device tensors stay there);
        None holds nothing."""
        raise NotImplementedError

    def process(self, runner, pending: List[Any]) -> None:
        """Handle the held iterations, oldest first."""
        raise NotImplementedError

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.interval is None:
            self.interval = logging_interval(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        kept = self.keep(runner, batch_idx, outputs)
        if kept is not None:
            self._pending.append(kept)
        # Where LoggerHook logs: every `interval` batches of an epoch and at its end.
        if self.every_n_inner_iters(batch_idx, self.interval) or \
                self.end_of_epoch(runner.train_dataloader, batch_idx):
            self.flush(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self.flush(runner)
        super().before_save_checkpoint(runner, checkpoint)

    def after_train_epoch(self, runner) -> None:
        self.flush(runner)
        super().after_train_epoch(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)
        super().after_train(runner)  # e.g. RuntimeInfoHook's end-of-training bookkeeping

    def flush(self, runner) -> None:
        """:meth:`process` the held iterations, if any, and hold none."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self.process(runner, pending)
