"""Batch statistics that show representation collapse: spread and effective rank.

Both take a feature matrix ``(n, C)`` (rows = samples or tokens, columns = feature
dimensions), as a torch tensor or a numpy array, and compute in float64.

* :func:`feature_std`: the mean over the ``C`` dimensions of each dimension's standard
  deviation across the rows (unbiased, ``n - 1``, as the variance regulariser uses).
  It falls to 0 when every row becomes the same vector (complete collapse).
* :func:`effective_rank`: ``exp(H(p))`` with ``p = s / sum(s)`` the normalised singular
  values ``s`` of the centred matrix and ``H`` the Shannon entropy (Roy & Vetterli, 2007).
  It counts the directions the batch really spreads in, between 1 (all the spread on one
  line: dimensional collapse) and ``min(n, C)`` (spread evenly over every direction);
  it is 0 when the rows do not vary at all.
"""
from typing import Dict, Union

import numpy as np
import torch

__all__ = ['feature_std', 'effective_rank', 'feature_stats']

Matrix = Union[torch.Tensor, np.ndarray]


def _as_rows(features: Matrix, who: str) -> torch.Tensor:
    """``(n, C)`` float64 tensor with ``n >= 2`` finite rows, on the input's device."""
    z = torch.as_tensor(features)
    if z.ndim != 2:
        raise ValueError(f'{who}: features must be a matrix (n, C), got shape {tuple(z.shape)}')
    if z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(f'{who}: needs at least 2 rows and 1 column to measure a spread, '
                         f'got shape {tuple(z.shape)}')
    z = z.detach().to(torch.float64)
    if not torch.isfinite(z).all():
        raise ValueError(f'{who}: features hold NaN or infinite values')
    return z


def feature_std(features: Matrix) -> float:
    """Mean per-dimension standard deviation across rows.

    Args:
        features (torch.Tensor | np.ndarray): ``(n, C)``, ``n >= 2``.

    Returns:
        float: ``(1 / C) * sum_i std(features[:, i])``, unbiased (divides by ``n - 1``).
    """
    z = _as_rows(features, 'feature_std')
    return float(z.std(dim=0, unbiased=True).mean())


def effective_rank(features: Matrix) -> float:
    """Effective rank of the centred rows: ``exp(-sum_k p_k log p_k)``, ``p = s / sum(s)``.

    Args:
        features (torch.Tensor | np.ndarray): ``(n, C)``, ``n >= 2``.

    Returns:
        float: a value in ``[1, min(n - 1, C)]``, or 0 when the rows do not vary. Singular
        values below the rounding level of the input
        (``max(n, C) * eps64 * ||features||_F``, the tolerance numpy's ``matrix_rank`` uses,
        measured before centring) count as 0, so a batch of identical rows gives 0 and not a
        value made of rounding noise.
    """
    z = _as_rows(features, 'effective_rank')
    tolerance = max(z.shape) * torch.finfo(torch.float64).eps * torch.linalg.norm(z)
    singular = torch.linalg.svdvals(z - z.mean(dim=0, keepdim=True))
    singular = singular[singular > tolerance]
    if singular.numel() == 0:
        return 0.0
    p = singular / singular.sum()
    return float(torch.exp(-(p * torch.log(p)).sum()))


def feature_stats(features: Matrix) -> Dict[str, float]:
    """``dict(std=feature_std(features), erank=effective_rank(features))``."""
    return dict(std=feature_std(features), erank=effective_rank(features))
