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
NORMS = ('LN', 'BN', 'none')
POOLINGS = ('pool_mlp', 'mlp_pool', 'concat')
SOURCES = ('motion', 'joints')


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm over every token of the batch: ``(..., C)`` in and out; the statistics
    are taken over all leading dimensions together."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def make_mlp(in_dims: int, hidden_dims: int, out_dims: int, num_layers: int = 3,
             norm: str = 'LN') -> nn.Sequential:
    """``num_layers`` linears with a norm and GELU after each hidden one.

    Args:
        in_dims (int): input width.
        hidden_dims (int): hidden width.
        out_dims (int): output width.
        num_layers (int): linears (>= 2).
        norm (str): after each hidden linear: ``'LN'`` LayerNorm (per token),
            ``'BN'`` BatchNorm over the batch's tokens, ``'none'``.
    """
    if num_layers < 2:
        raise ValueError(f'make_mlp: num_layers must be >= 2, got {num_layers}')
    if norm not in NORMS:
        raise ValueError(f'make_mlp: norm={norm!r}, expected one of {NORMS}')
    layers, width = [], in_dims
    for _ in range(num_layers - 1):
        layers.append(nn.Linear(width, hidden_dims))
        if norm != 'none':
            layers.append(nn.LayerNorm(hidden_dims) if norm == 'LN'
                          else TokenBatchNorm(hidden_dims))
        layers.append(nn.GELU())
        width = hidden_dims
    layers.append(nn.Linear(width, out_dims))
    return nn.Sequential(*layers)


def concat_windows(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """``(B, T_e, V, D)`` -> ``(B, T_e / kernel, V, kernel * D)``: each window's
    ``kernel`` consecutive patch rows side by side (earliest first), per joint."""
    B, rows, V, D = x.shape
    if rows % kernel:
        raise ValueError(f'concat_windows: {rows} patch rows are not divisible by kernel '
                         f'{kernel}')
    x = x.reshape(B, rows // kernel, kernel, V, D).transpose(2, 3)
    return x.reshape(B, rows // kernel, V, kernel * D)


@MODELS.register_module()
class MotionTargetGenerator(BaseModule):
    """Makes GFP's high-level targets from the whole, unmasked motion sequence.

    Motion patches ``(B, T_e, V, l * C)`` are pooled over time with each local level's
    kernel (the decoder's, in patch rows) and mapped per token by that level's MLP; the
    global level maps one descriptor per person (the last local level's pooled motion,
    flattened over joints, or its mean) through a wider MLP.

    ``pooling`` orders the pooling and the MLP (``D = l * C``, ``k`` a level's kernel):

    - ``'pool_mlp'``: average the ``k`` motion patches of a window, then the MLP
      (input ``D``); the global MLP takes the whole clip's average;
    - ``'mlp_pool'``: the MLP on every motion patch, then average its outputs over the
      window; the global MLP runs on every patch row (all joints) and is averaged over
      the clip;
    - ``'concat'``: the window's ``k`` motion patches side by side (input ``k * D``), so
      the shape of the motion inside the window is kept; the global MLP takes the last
      level's windows.

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
        norm: after each hidden linear of every MLP: ``'LN'``, ``'BN'`` or ``'none'``.
        pooling: ``'pool_mlp'``, ``'mlp_pool'`` or ``'concat'`` (above).
        source: ``'motion'`` (the default, as the paper's ablation chose) or
            ``'joints'``: the joint positions' patches instead of their motion.
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
                 norm: str = 'LN',
                 pooling: str = 'pool_mlp',
                 source: str = 'motion',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if motion not in MOTION_MODES:
            raise ValueError(f'MotionTargetGenerator: motion={motion!r}, expected one of '
                             f'{MOTION_MODES}')
        if global_input not in GLOBAL_INPUTS:
            raise ValueError(f'MotionTargetGenerator: global_input={global_input!r}, '
                             f'expected one of {GLOBAL_INPUTS}')
        for name, value, allowed in (('pooling', pooling, POOLINGS),
                                     ('source', source, SOURCES)):
            if value not in allowed:
                raise ValueError(f'MotionTargetGenerator: {name}={value!r}, expected one '
                                 f'of {allowed}')
        self.pool_kernels = tuple(pool_kernels)
        self.norm = norm
        self.pooling = pooling
        self.source = source
        self.patch_len = patch_len
        self.motion = motion
        self.global_input = global_input
        self.target_dims = target_dims
        token_dims = patch_len * in_channels
        widen = [k if pooling == 'concat' else 1 for k in self.pool_kernels]
        self.local_mlps = nn.ModuleList(
            make_mlp(token_dims * w, local_hidden, target_dims, num_layers, norm)
            for w in widen)
        global_dims = token_dims * widen[-1]
        global_dims *= num_joints if global_input == 'flatten' else 1
        self.global_mlp = make_mlp(global_dims, global_hidden, target_dims, num_layers,
                                   norm)
        self.apply(init_transformer_weights)

    @property
    def level_dims(self) -> List[int]:
        """Width of the targets at each level (its MLP's output), local levels first, the
        global level last: ``C_t`` each."""
        return [mlp[-1].out_features for mlp in (*self.local_mlps, self.global_mlp)]

    @property
    def num_levels(self) -> int:
        """Local levels plus the global one."""
        return len(self.level_dims)

    def motion_patches(self, joints: torch.Tensor) -> torch.Tensor:
        """``(B, T, V, C)`` joints -> ``(B, T_e, V, l * C)`` motion patches (with
        ``source='joints'``: the joints' own patches)."""
        if self.source == 'joints':
            return patchify(joints, self.patch_len)
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
            if self.pooling == 'mlp_pool':
                level = temporal_avg_pool(mlp(motion), kernel)  # (B, T_e / kernel, V, C_t)
            else:
                window = temporal_avg_pool(motion, kernel) if self.pooling == 'pool_mlp' \
                    else concat_windows(motion, kernel)  # (B, T_e / kernel, V, D')
                level = mlp(window)
            targets.append(level.flatten(1, 2))
        targets.append(self.global_mlp(self._global_descriptor(motion)).mean(1, keepdim=True))
        return targets

    def _global_descriptor(self, motion: torch.Tensor) -> torch.Tensor:
        """The global MLP's input ``(B, R, D_g)``; its outputs are averaged over ``R``.

        ``R = 1`` (the clip's pooled motion, or the last level's windows) except for
        ``'mlp_pool'``, where ``R = T_e`` (every patch row).
        """
        if self.pooling == 'mlp_pool':
            rows = motion  # (B, T_e, V, D)
        elif self.pooling == 'pool_mlp':
            rows = motion.mean(dim=1, keepdim=True)  # (B, 1, V, D)
        else:
            rows = concat_windows(motion, self.pool_kernels[-1]).mean(dim=1, keepdim=True)
        return rows.flatten(2) if self.global_input == 'flatten' else rows.mean(dim=2)
