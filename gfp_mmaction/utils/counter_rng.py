"""Counter-based random numbers: every draw is a pure function of its key and counter.

The pre-training augmentation draws, for every sample, a crop, three rotation angles and
one Gumbel variate per token. Drawing them from a generator that lives in a process ties
them to that process's history: to the number of data-loader workers, to the rank, to
whether the workers were restarted by a resume. Here a draw is instead a hash of
``(seed, epoch, sample index, counter)``, so a sample gets the same augmentation in
every process layout, and a resumed run continues exactly.

The hash is Chris Wellons' ``lowbias32`` finaliser (chained over the key's parts, once
per draw), on 32-bit values held
in int64 (``_mul32`` keeps every product below ``2 ** 63``), so that numpy and torch, CPU
and CUDA, eager and compiled code give bit-identical integers.
"""
import numpy as np
import torch

__all__ = ['sample_keys', 'uniform']

_MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _mul32(x, c: int):
    """``(x * c) mod 2 ** 32`` for ``x`` in ``[0, 2 ** 32)`` without int64 overflow."""
    low, high = c & 0xFFFF, c >> 16
    return (x * low + (((x * high) & 0xFFFF) << 16)) & _MASK32


def _mix32(x):
    """``lowbias32``: a bijection of ``[0, 2 ** 32)`` with strong avalanche."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def sample_keys(seed: int, epoch: int, index):
    """One 32-bit key per sample from ``(seed, epoch, index)``.

    Args:
        seed (int): any non-negative int (64 bits are used).
        epoch (int): the training epoch, ``>= 0``.
        index (np.ndarray | torch.Tensor): sample indices into the dataset, an int64
            numpy array or torch tensor.

    Returns:
        np.ndarray | torch.Tensor: keys of ``index``'s shape and type, int64 values in
        ``[0, 2 ** 32)``.
    """
    seed, epoch = int(seed), int(epoch)
    head = _mix32(_mix32((seed & _MASK32) ^ _GOLDEN) ^ ((seed >> 32) & _MASK32))
    head = _mix32(head ^ (epoch & _MASK32))
    return _mix32(_mix32((index & _MASK32) ^ head) ^ ((index >> 32) & _MASK32))


def uniform(keys, counters, dtype=None):
    """Uniform numbers in ``[0, 1)``, one per (key, counter).

    Args:
        keys (np.ndarray | torch.Tensor): ``(B,)`` from :func:`sample_keys` (numpy or
            torch).
        counters (np.ndarray | torch.Tensor): ``(n,)`` non-negative int64 of the same
            library: which draw of the sample (each use of randomness owns a range of
            counters).
        dtype (np.dtype | torch.dtype, optional): ``float64`` (default; 32 random bits,
            ``k / 2 ** 32``) or ``float32`` (24 bits, ``k / 2 ** 24``, exact in
            float32); a numpy or torch dtype.

    Returns:
        np.ndarray | torch.Tensor: ``(B, n)`` of ``dtype``.
    """
    # keys are already mixed: one round per draw separates the counters of a key.
    x = _mix32(keys[:, None] ^ _mul32(counters[None, :], _GOLDEN))
    single = dtype in (np.float32, torch.float32)
    if isinstance(x, np.ndarray):
        if single:
            return (x >> 8).astype(np.float32) * np.float32(2.0 ** -24)
        return x.astype(np.float64) * 2.0 ** -32
    if single:
        return (x >> 8).float() * 2.0 ** -24
    return x.double() * 2.0 ** -32
