"""Loss terms read on the host at the logging interval, not every iteration."""
from typing import Dict, List, Optional

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import RuntimeInfoHook

from .deferred_terms import DeferredTermsHook

__all__ = ['DeferredRuntimeInfoHook']


@HOOKS.register_module()
class DeferredRuntimeInfoHook(DeferredTermsHook, RuntimeInfoHook):
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

    def keep(self, runner, batch_idx: int,
             outputs: Optional[dict]) -> Optional[Dict[str, torch.Tensor]]:
        if outputs is None:
            return None
        return {key: value.detach() if isinstance(value, torch.Tensor) else value
                for key, value in outputs.items()}

    def process(self, runner, pending: List[Dict[str, torch.Tensor]]) -> None:
        """Move the pending loss terms to the message hub (one device-to-host copy)."""
        tensors = [v.float().mean() for step in pending for v in step.values()
                   if isinstance(v, torch.Tensor)]
        host = iter(torch.stack(tensors).cpu().tolist()) if tensors else iter(())
        for step in pending:
            for key, value in step.items():
                value = next(host) if isinstance(value, torch.Tensor) else value
                runner.message_hub.update_scalar(f'train/{key}', value)
