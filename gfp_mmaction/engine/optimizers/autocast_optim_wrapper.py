"""Mixed precision without a loss scaler, on any device."""
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS  # the root registry: found from every scope

__all__ = ['AutocastOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast`` in ``dtype``.

    For bfloat16, which has float32's range and needs no loss scaling. MMEngine's
    ``AmpOptimWrapper`` always builds a ``GradScaler``, whose inf check reads a value
    on the host every step, and it refuses to run without a GPU; this wrapper has no
    scaler (so no per-step sync) and autocasts on the device the model's parameters are
    on (CUDA, or the CPU). Parameters, gradients and optimizer state stay float32.
    ``tools/train.py --amp`` selects it.

    Args:
        dtype (str | torch.dtype): the autocast dtype. Defaults to ``'bfloat16'``.
        **kwargs: ``OptimWrapper``'s arguments.
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f'AutocastOptimWrapper: dtype must be bfloat16 (or float16 '
                             f'where no loss scaling is needed), got {dtype}')
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device_type=device,
                                                          dtype=self.cast_dtype):
            yield
