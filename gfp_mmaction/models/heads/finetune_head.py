"""MAMP's fine-tuning head: joint-aware pooling into a two-layer MLP classifier."""
from typing import Dict, List, Union

import torch
from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from torch import nn

__all__ = ['FinetuneHead']


@MODELS.register_module()
class FinetuneHead(BaseHead):
    """MAMP's fine-tune head (``ActionHeadFinetune``).

    ``(N, M, C, T_e, V)`` backbone features -> dropout -> mean over time -> the ``V``
    joint vectors concatenated (joint-major, ``V * C`` = 25 x 256 = 6400) -> mean over
    persons -> ``Linear(V * C, hidden_dims)`` -> ``BatchNorm1d`` -> ReLU ->
    ``Linear(hidden_dims, num_classes)``. Unlike the linear probe it keeps *which* joint
    a feature came from. As in MAMP's code, the dropout acts on the encoder features.

    Args:
        num_classes (int): classes.
        in_channels (int): backbone width ``C``. Defaults to 256.
        num_joints (int): ``V``. Defaults to 25.
        hidden_dims (int): width of the hidden layer. Defaults to 2048.
        dropout (float): dropout probability on the encoder features. Defaults to 0.3.
        loss_cls (dict): as MMAction2's ``BaseHead``. Defaults to
            ``dict(type='CrossEntropyLoss')``.
        average_clips (str): as MMAction2's ``BaseHead``. Defaults to ``'prob'``.
        init_cfg (dict | list[dict]): xavier-uniform linears with zero bias, as MAMP
            initialises them.
        **kwargs: the rest of MMAction2's ``BaseHead`` arguments (``label_smooth_eps``,
            ``topk``, ...; MAMP fine-tunes with label smoothing 0.1).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 256,
                 num_joints: int = 25,
                 hidden_dims: int = 2048,
                 dropout: float = 0.3,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 average_clips: str = 'prob',
                 init_cfg: Union[Dict, List[Dict]] = dict(
                     type='Xavier', layer='Linear', distribution='uniform', bias=0.0),
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, loss_cls=loss_cls,
                         average_clips=average_clips, init_cfg=init_cfg, **kwargs)
        self.num_joints = num_joints
        self.dropout = nn.Dropout(p=dropout)
        self.fc1 = nn.Linear(num_joints * in_channels, hidden_dims)
        self.bn = nn.BatchNorm1d(hidden_dims)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden_dims, num_classes)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, M, C, T_e, V) -> (N, V * C)``: mean over time, joints concatenated
        (index ``v * C + c``), mean over persons."""
        N, M, C, T, V = x.shape
        if C != self.in_channels or V != self.num_joints:
            raise ValueError(f'FinetuneHead expects features (N, M, {self.in_channels}, T, '
                             f'{self.num_joints}), got {tuple(x.shape)}')
        x = x.mean(dim=3).transpose(2, 3)  # (N, M, V, C)
        return x.reshape(N, M, V * C).mean(dim=1)

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """``(N, M, C, T_e, V) -> (N, num_classes)`` scores."""
        x = self.pool(self.dropout(x))
        return self.fc2(self.relu(self.bn(self.fc1(x))))
