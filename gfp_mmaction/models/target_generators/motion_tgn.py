"""GFP's Target Generation Network: small MLPs on pooled motion, trained jointly."""
from typing import List, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from ...utils import frame_motion, patchify, temporal_avg_pool
from ..utils import init_transformer_weights

__all__ = ['MotionTargetGenerator', 'make_mlp']

MOTION_MODES = ('frame', 'patch')
GLOBAL_INPUTS = ('flatten', 'mean')


def make_mlp(in_dims: int, hidden_dims: int, out_dims: int, num_layers: int = 3) -> nn.Sequential:
    """``num_layers`` linears with LayerNorm + GELU between them.

    LayerNorm (per token, not per batch) because motion values are centimetre-sized and
    padded persons are all zero: it rescales without any statistic across samples.
    """
    if num_layers < 2:
        raise ValueError(f'make_mlp: num_layers must be >= 2, got {num_layers}')
    layers, width = [], in_dims
    for _ in range(num_layers - 1):
        layers += [nn.Linear(width, hidden_dims), nn.LayerNorm(hidden_dims), nn.GELU()]
        width = hidden_dims
    layers.append(nn.Linear(width, out_dims))
    return nn.Sequential(*layers)


@MODELS.register_module()
class MotionTargetGenerator(BaseModule):
    """Makes GFP's high-level targets from the whole, unmasked motion sequence.

    Motion patches ``(B, T_e, V, l * C)`` are pooled over time with each local level's
    kernel (the decoder's, in patch rows) and mapped per token by that level's MLP; the
    global level maps one descriptor per person (the last local level's pooled motion,
    flattened over joints, or its mean) through a wider MLP.

    Args:
        in_channels: coordinates per joint ``C``.
        num_joints: ``V``.
        patch_len: frames per token ``l`` (the encoder's).
        pool_kernels: patch rows per token at each local level (the decoder's).
        target_dims: ``C_t``.
        local_hidden: hidden width of the local MLPs (paper: 512).
        global_hidden: hidden width of the global MLP (paper: 2048).
        num_layers: linears per MLP (paper: 3; 2, 3, 4 perform alike).
        motion: ``'frame'``: ``x[t + 1] - x[t]`` cut into patches (default);
            ``'patch'``: difference of consecutive patches.
        global_input: ``'flatten'`` (``V * l * C`` values) or ``'mean'`` (``l * C``).
    """

    def __init__(self,
                 in_channels: int = 3,
                 num_joints: int = 25,
                 patch_len: int = 4,
                 pool_kernels: Sequence[int] = (5, 10, 30),
                 target_dims: int = 256,
                 local_hidden: int = 512,
                 global_hidden: int = 2048,
                 num_layers: int = 3,
                 motion: str = 'frame',
                 global_input: str = 'flatten',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if motion not in MOTION_MODES:
            raise ValueError(f'MotionTargetGenerator: motion={motion!r}, expected one of '
                             f'{MOTION_MODES}')
        if global_input not in GLOBAL_INPUTS:
            raise ValueError(f'MotionTargetGenerator: global_input={global_input!r}, '
                             f'expected one of {GLOBAL_INPUTS}')
        self.patch_len = patch_len
        self.pool_kernels = tuple(pool_kernels)
        self.motion = motion
        self.global_input = global_input
        self.target_dims = target_dims
        token_dims = patch_len * in_channels
        self.local_mlps = nn.ModuleList(
            make_mlp(token_dims, local_hidden, target_dims, num_layers) for _ in pool_kernels)
        global_dims = token_dims * num_joints if global_input == 'flatten' else token_dims
        self.global_mlp = make_mlp(global_dims, global_hidden, target_dims, num_layers)
        self.apply(init_transformer_weights)

    @property
    def num_levels(self) -> int:
        """Local levels plus the global one."""
        return len(self.local_mlps) + 1

    @property
    def level_dims(self) -> List[int]:
        """Width of the targets at each level, local levels first: ``C_t`` each."""
        return [self.target_dims] * self.num_levels

    def motion_patches(self, joints: torch.Tensor) -> torch.Tensor:
        """``(B, T, V, C)`` joints -> ``(B, T_e, V, l * C)`` motion patches."""
        if self.motion == 'frame':
            return patchify(frame_motion(joints), self.patch_len)
        patches = patchify(joints, self.patch_len)
        return frame_motion(patches)  # consecutive patch rows; the last row is 0

    def forward(self, joints: torch.Tensor) -> List[torch.Tensor]:
        """Targets of every level.

        Args:
            joints: ``(B, T, V, C)``, the whole sequence (the TGN never sees the mask).

        Returns:
            one ``(B, n_k, C_t)`` tensor per level, ``n_k`` = 150, 75, 25, 1 by default.
        """
        motion = self.motion_patches(joints)
        targets = []
        for kernel, mlp in zip(self.pool_kernels, self.local_mlps):
            pooled = temporal_avg_pool(motion, kernel)  # (B, T_e / kernel, V, l * C)
            targets.append(mlp(pooled.flatten(1, 2)))
        descriptor = pooled.mean(dim=1)  # (B, V, l * C)
        descriptor = descriptor.flatten(1) if self.global_input == 'flatten' \
            else descriptor.mean(dim=1)
        targets.append(self.global_mlp(descriptor).unsqueeze(1))
        return targets
