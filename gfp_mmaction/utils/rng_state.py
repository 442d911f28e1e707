"""Capture and restore the process's global random number generators.

The data pipeline draws from numpy's global generator (random crop, rotation, token
masking), models may draw from torch's (dropout, drop-path) and some code from Python's
``random``. MMEngine seeds them once at start-up and saves none of them in checkpoints,
so a resumed run continues from the seed, not from where the interrupted run stopped.
"""
import random
from typing import Dict

import numpy as np
import torch

__all__ = ['get_rng_state', 'set_rng_state']


def get_rng_state() -> Dict:
    """The states of Python's, numpy's and torch's global generators in this process.

    Returns:
        dict: ``python`` (``random.getstate()``), ``numpy``
        (``np.random.get_state()``), ``torch`` (CPU generator, uint8 tensor) and, when
        this process has initialised CUDA, ``cuda`` (the current device's generator).
        Everything is picklable and lives on the CPU.
    """
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: Dict) -> None:
    """Restore what :func:`get_rng_state` returned (a missing ``cuda`` entry, or no CUDA
    here, leaves the CUDA generator as it is)."""
    missing = {'python', 'numpy', 'torch'} - set(state)
    if missing:
        raise KeyError(f'set_rng_state: the saved random state lacks {sorted(missing)}; '
                       'expected the dict made by get_rng_state()')
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'])
