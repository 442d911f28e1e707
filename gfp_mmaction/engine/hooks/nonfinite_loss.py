"""Stop training at the first non-finite loss, before anything is saved after it."""
import math
from numbers import Number
from typing import List, Optional, Tuple

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, find_latest_checkpoint

from .deferred_runtime_info import logging_interval

__all__ = ['NonFiniteLossError', 'NonFiniteLossHook']


class NonFiniteLossError(FloatingPointError):
    """A training iteration produced a NaN or infinite loss term."""


def _as_float(value):
    """A logged loss term as a float, or None when it is not a number."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean()) if value.numel() else None
    if isinstance(value, Number) and not isinstance(value, bool):
        return float(value)
    return None


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when an iteration's loss terms were not all finite.

    The check is deferred so that it costs no host sync per step: the hook keeps each
    iteration's loss terms on the device and checks them, in one transfer, at the
    logging interval (``interval``), at the end of every epoch, before every checkpoint
    is written and at the end of training. The error names the FIRST iteration whose
    terms were not finite (1-based, as the log counts), its epoch and batch and every
    term's value there, and points to the last checkpoint.

    MMEngine's ``train_step`` has applied the bad iteration's update (and possibly later
    ones) by then, so the in-memory weights may be corrupt: the run must stop before any
    hook saves them. The hook checks before the ``CheckpointHook`` (``VERY_LOW``) saves
    an iteration-based checkpoint (``before_save_checkpoint``) or an epoch's
    (``after_train_epoch`` at ``ABOVE_NORMAL``), so the last checkpoint written and
    ``last_checkpoint`` stay as they were.

    Args:
        interval (int, optional): iterations between checks; None = the ``LoggerHook``'s
            interval; 1 = every iteration (a host sync per step).
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: Optional[int] = None) -> None:
        if interval is not None and (not isinstance(interval, int) or interval < 1):
            raise ValueError(f'NonFiniteLossHook: interval must be a positive int or None, '
                             f'got {interval!r}')
        self.interval = interval
        self._pending: List[Tuple[int, int, int, dict]] = []

    def before_train(self, runner) -> None:
        if self.interval is None:
            self.interval = logging_interval(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if isinstance(outputs, dict):
            terms = {key: value.detach() for key, value in outputs.items()
                     if isinstance(value, torch.Tensor) and value.numel()}
            terms.update({key: float(value) for key, value in outputs.items()
                          if isinstance(value, Number) and not isinstance(value, bool)})
            self._pending.append((runner.iter, runner.epoch, batch_idx, terms))
        if self.every_n_inner_iters(batch_idx, self.interval) or \
                self.end_of_epoch(runner.train_dataloader, batch_idx):
            self.check(runner)

    def after_train_epoch(self, runner) -> None:
        self.check(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self.check(runner)

    def after_train(self, runner) -> None:
        self.check(runner)

    def check(self, runner) -> None:
        """Raise :class:`NonFiniteLossError` if a pending iteration had a non-finite term."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        device = next((v.device for *_, terms in pending for v in terms.values()
                       if isinstance(v, torch.Tensor)), torch.device('cpu'))
        flags = [torch.isfinite(v).all() if isinstance(v, torch.Tensor)
                 else torch.tensor(math.isfinite(v), device=device)
                 for *_, terms in pending for v in terms.values()]
        if not flags or bool(torch.stack(flags).all()):  # the one host sync
            return
        for iteration, epoch, batch_idx, terms in pending:
            values = {key: _as_float(value) for key, value in terms.items()}
            bad = [key for key, value in values.items() if not math.isfinite(value)]
            if bad:
                break
        terms = ', '.join(f'{key}={value:.6g}' for key, value in values.items())
        where = f'iteration {iteration + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {epoch + 1}, batch {batch_idx + 1})'
        # What --resume would continue from: the file `last_checkpoint` names.
        last = find_latest_checkpoint(runner.work_dir)
        message = (
            f'Non-finite loss at {where}: {terms}. Training stopped; '
            + (f'the last checkpoint, {last}, was kept as it was and is what --resume '
               'continues from.' if last else 'no checkpoint had been saved yet.')
            + ' Usual causes: a learning rate too high for the batch size, fp16 overflow '
            '(--amp-dtype float16), or NaN / inf coordinates in the data (the datasets '
            f'validate them at load; non-finite terms: {", ".join(bad)}).')
        runner.logger.error(message)
        raise NonFiniteLossError(message)
