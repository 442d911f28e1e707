"""GFP's anti-collapse ("information maximisation") regulariser, VICReg-style."""
from typing import Dict, Optional, Sequence

import torch
from mmaction.registry import MODELS
from torch import nn

from .weighting import expand_row_weight

__all__ = ['VarianceCovarianceLoss', 'variance_loss', 'covariance_loss']


def _weighted_centre(z: torch.Tensor, w: torch.Tensor):
    """Centred rows and the unbiased normaliser ``sum(w) - 1``."""
    total = w.sum()
    mean = (w[:, None] * z).sum(0) / total.clamp(min=1)
    return z - mean, (total - 1).clamp(min=1)


def variance_loss(z: torch.Tensor, weight: Optional[torch.Tensor] = None,
                  eps: float = 1e-4) -> torch.Tensor:
    """``(1 / C) * sum_i max(0, 1 - sqrt(Var(z[:, i]) + eps))``.

    Args:
        z: ``(n, C)`` rows = samples (tokens), columns = feature dims.
        weight: ``(n,)`` 0/1 row weights (rows with 0 are left out), or None.

    Returns:
        scalar. The variance is unbiased (divides by ``n - 1``), as in VICReg.
    """
    z = z.float()
    w = z.new_ones(z.shape[0]) if weight is None else weight.to(z.dtype)
    centred, norm = _weighted_centre(z, w)
    var = (w[:, None] * centred.pow(2)).sum(0) / norm
    return torch.relu(1 - torch.sqrt(var + eps)).mean()


def covariance_loss(z: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``(1 / C) * sum_{i != j} Cov(z)[i, j]^2`` on centred features.

    Args:
        z: ``(n, C)``.
        weight: ``(n,)`` 0/1 row weights, or None.

    Returns:
        scalar.
    """
    z = z.float()
    w = z.new_ones(z.shape[0]) if weight is None else weight.to(z.dtype)
    centred, norm = _weighted_centre(z, w)
    cov = (w[:, None] * centred).T @ centred / norm
    off_diagonal = cov.pow(2).sum() - cov.diagonal().pow(2).sum()
    return off_diagonal / z.shape[1]


@MODELS.register_module()
class VarianceCovarianceLoss(nn.Module):
    """Sums the variance and covariance terms over target levels.

    Each level's targets ``(B, n_k, C_t)`` become ``B * n_k`` rows; rows of padded
    persons get weight 0. Returns ``loss_var = var_weight * sum_k L_var`` and
    ``loss_cov = cov_weight * sum_k L_cov`` (paper: 1 and 5).
    """

    def __init__(self, var_weight: float = 1.0, cov_weight: float = 5.0, eps: float = 1e-4):
        super().__init__()
        self.var_weight = var_weight
        self.cov_weight = cov_weight
        self.eps = eps

    def forward(self, targets: Sequence[torch.Tensor],
                weight: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        loss_var = loss_cov = 0
        for level in targets:
            B, n, C = level.shape
            rows = level.reshape(B * n, C)
            row_weight = expand_row_weight(weight, B, n, rows)
            loss_var = loss_var + variance_loss(rows, row_weight, self.eps)
            loss_cov = loss_cov + covariance_loss(rows, row_weight)
        return dict(loss_var=self.var_weight * loss_var, loss_cov=self.cov_weight * loss_cov)
