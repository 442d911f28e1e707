"""The linear-evaluation head: pooled frozen features, BatchNorm without affine, a linear."""
from typing import Dict, List, Union

import torch
from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from torch import nn

__all__ = ['LinearProbeHead']


@MODELS.register_module()
class LinearProbeHead(BaseHead):
    """MAMP's linear probe: mean over persons, time and joints, ``BatchNorm1d(affine=False)``
    (a fixed per-feature standardisation learned from the data), then ``Linear``.

    Input ``(N, M, C, T_e, V)`` backbone features; output ``(N, num_classes)`` scores.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 256,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 average_clips: str = 'prob',
                 init_cfg: Union[Dict, List[Dict]] = dict(
                     type='TruncNormal', layer='Linear', std=0.01),
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, loss_cls=loss_cls,
                         average_clips=average_clips, init_cfg=init_cfg, **kwargs)
        self.norm = nn.BatchNorm1d(in_channels, affine=False)
        self.fc = nn.Linear(in_channels, num_classes)

    @staticmethod
    def pool(x: torch.Tensor) -> torch.Tensor:
        """``(N, M, C, T_e, V) -> (N, C)``: mean over persons, time and joints."""
        return x.mean(dim=(1, 3, 4))

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.fc(self.norm(self.pool(x)))
