"""Stop training at the first non-finite loss, before anything is saved after it."""
import math
from numbers import Number

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, find_latest_checkpoint

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
    """Raise :class:`NonFiniteLossError` at the first iteration whose loss terms are not
    all finite.

    MMEngine's ``train_step`` has already applied that iteration's update when the hook
    sees the loss, so the in-memory weights may be corrupt: the run must stop before any
    later hook saves them. The hook therefore runs at ``ABOVE_NORMAL`` priority in
    ``after_train_iter``, before the ``CheckpointHook`` (``VERY_LOW``) can save an
    iteration-based checkpoint and long before ``after_train_epoch`` saves an epoch's;
    the last checkpoint written and ``last_checkpoint`` stay as they were.

    The message names the iteration (1-based, as the log counts), the epoch, the batch
    and every loss term's value, and points to the last checkpoint.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not isinstance(outputs, dict):
            return
        values = {key: _as_float(value) for key, value in outputs.items()}
        values = {key: value for key, value in values.items() if value is not None}
        bad = [key for key, value in values.items() if not math.isfinite(value)]
        if not bad:
            return
        terms = ', '.join(f'{key}={value:.6g}' for key, value in values.items())
        where = f'iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        # What --resume would continue from: the file `last_checkpoint` names.
        last = find_latest_checkpoint(runner.work_dir)
        message = (
            f'Non-finite loss at {where}: {terms}. Training stopped; '
            + (f'the last checkpoint, {last}, was kept as it was and is what --resume '
               'continues from.' if last else 'no checkpoint had been saved yet.')
            + ' Usual causes: a learning rate too high for the batch size, fp16 overflow '
            '(--amp), or NaN / inf coordinates in the data (the datasets validate them at '
            f'load; non-finite terms: {", ".join(bad)}).')
        runner.logger.error(message)
        raise NonFiniteLossError(message)
