"""Stop training at the first non-finite loss, before anything is saved after it."""
import math
from numbers import Number
from typing import List, Optional, Tuple

import torch
from mmaction.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop, find_latest_checkpoint

from .deferred_terms import DeferredTermsHook

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
class NonFiniteLossHook(DeferredTermsHook):
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

    def keep(self, runner, batch_idx: int, outputs) -> Optional[Tuple[int, int, int, dict]]:
        if not isinstance(outputs, dict):
            return None
        terms = {key: value.detach() for key, value in outputs.items()
                 if isinstance(value, torch.Tensor) and value.numel()}
        terms.update({key: float(value) for key, value in outputs.items()
                      if isinstance(value, Number) and not isinstance(value, bool)})
        return runner.iter, runner.epoch, batch_idx, terms

    def check(self, runner) -> None:
        """Raise :class:`NonFiniteLossError` if a pending iteration had a non-finite term."""
        self.flush(runner)

    def process(self, runner, pending: List[Tuple[int, int, int, dict]]) -> None:
        """One host sync for all pending terms; raise at the first iteration with a
        non-finite one."""
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
