"""GFP's prediction loss: mean over levels of each level's MSE."""
from typing import Optional, Sequence

import torch
from mmaction.registry import MODELS
from torch import nn

from .weighting import weighted_mean

__all__ = ['MultiLevelMSELoss']


@MODELS.register_module()
class MultiLevelMSELoss(nn.Module):
    """``loss_weight * sum_k w_k * MSE(pred_k, target_k)`` with ``w_k`` summing to 1.

    The MSE of a level averages over all its tokens (pooled tokens mix visible and
    masked positions) and feature dims, then over the persons with weight 1.

    Args:
        loss_weight (float): paper: 5. Defaults to 5.0.
        level_weights (Sequence[float], optional): per-level weights, normalised to sum
            1; None = equal. Defaults to None.
    """

    def __init__(self, loss_weight: float = 5.0, level_weights: Optional[Sequence[float]] = None):
        super().__init__()
        self.loss_weight = loss_weight
        self.level_weights = None if level_weights is None else tuple(level_weights)

    def forward(self, predictions: Sequence[torch.Tensor], targets: Sequence[torch.Tensor],
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        if len(predictions) != len(targets):
            raise ValueError(f'{len(predictions)} prediction levels for {len(targets)} targets')
        level_weights = self.level_weights or (1.0,) * len(targets)
        if len(level_weights) != len(targets):
            raise ValueError(f'{len(level_weights)} level_weights for {len(targets)} levels')
        total = sum(level_weights)
        loss = 0
        for w, pred, target in zip(level_weights, predictions, targets):
            if pred.shape != target.shape:
                raise ValueError(f'prediction {tuple(pred.shape)} and target '
                                 f'{tuple(target.shape)} shapes differ')
            per_person = (pred.float() - target.float()).pow(2).mean(dim=(1, 2))
            loss = loss + (w / total) * weighted_mean(per_person, weight)
        return self.loss_weight * loss
