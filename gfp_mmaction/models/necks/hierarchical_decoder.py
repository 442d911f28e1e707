"""GFP's hierarchical decoder: predicts TGN features at four temporal scales."""
from typing import List, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from ...utils import temporal_avg_pool
from ..utils import TransformerBlock, init_transformer_weights
from .mask_token_grid import MaskTokenGrid

__all__ = ['HierarchicalDecoder']

GLOBAL_TOKEN_MODES = ('mean_mlp', 'query')


@MODELS.register_module()
class HierarchicalDecoder(BaseModule):
    """Cascade of temporal average pooling and small transformer stages.

    The encoder's visible latents are placed on the ``(T_e, V)`` grid with mask tokens.
    Level ``k`` pools the previous level's tokens over time so that each of its tokens
    covers ``pool_kernels[k]`` patch rows, runs ``depths[k]`` blocks and predicts the
    level's targets. With the defaults (30 rows, kernels 5 / 10 / 30, 25 joints) the
    levels hold 150, 75 and 25 tokens, and a global level adds 1: 251 predictions per
    person. No block sees the full 750-token grid, which is what makes GFP cheap.

    Args:
        in_dims (int): encoder width. Defaults to 256.
        embed_dims (int): decoder width. Defaults to 256.
        num_rows (int): patch rows ``T_e`` of the grid. Defaults to 30.
        num_joints (int): ``V``. Defaults to 25.
        pool_kernels (Sequence[int]): patch rows per token at each local level,
            increasing, each dividing the next and the last dividing ``num_rows``.
            Defaults to ``(5, 10, 30)``.
        depths (Sequence[int]): transformer blocks per local level. Defaults to
            ``(2, 1, 1)``.
        num_heads (int): attention heads. Defaults to 8.
        mlp_ratio (float): MLP hidden width / ``embed_dims``. Defaults to 4.0.
        target_dims (int): width ``C_t`` of the targets. Defaults to 256.
        global_token (str): ``'mean_mlp'`` (mean of the last level's tokens, then an MLP)
            or ``'query'`` (a learned query attending to the last level's tokens in one
            block). Defaults to ``'mean_mlp'``.
        global_hidden (int): hidden width of the ``'mean_mlp'`` MLP. Defaults to 1024.
        init_cfg (dict, optional): MMEngine's initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_dims: int = 256,
                 embed_dims: int = 256,
                 num_rows: int = 30,
                 num_joints: int = 25,
                 pool_kernels: Sequence[int] = (5, 10, 30),
                 depths: Sequence[int] = (2, 1, 1),
                 num_heads: int = 8,
                 mlp_ratio: float = 4.0,
                 target_dims: int = 256,
                 global_token: str = 'mean_mlp',
                 global_hidden: int = 1024,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.pool_kernels = tuple(pool_kernels)
        self.pool_factors = cascade_pool_factors(num_rows, pool_kernels)
        if len(depths) != len(pool_kernels):
            raise ValueError(f'HierarchicalDecoder: {len(depths)} depths for '
                             f'{len(pool_kernels)} pooling levels')
        if global_token not in GLOBAL_TOKEN_MODES:
            raise ValueError(f'HierarchicalDecoder: global_token={global_token!r}, expected '
                             f'one of {GLOBAL_TOKEN_MODES}')
        self.global_token = global_token
        self.target_dims = target_dims
        self.grid = MaskTokenGrid(in_dims, embed_dims, num_rows, num_joints)
        self.stages = nn.ModuleList(
            nn.Sequential(*(TransformerBlock(embed_dims, num_heads, mlp_ratio)
                            for _ in range(depth))) for depth in depths)
        self.predictors = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(embed_dims), nn.Linear(embed_dims, target_dims))
            for _ in depths)
        if global_token == 'mean_mlp':
            self.global_stage = nn.Sequential(
                nn.LayerNorm(embed_dims), nn.Linear(embed_dims, global_hidden), nn.GELU(),
                nn.Linear(global_hidden, embed_dims))
        else:
            self.global_query = nn.Parameter(torch.zeros(1, 1, embed_dims))
            nn.init.normal_(self.global_query, std=0.02)
            self.global_stage = TransformerBlock(embed_dims, num_heads, mlp_ratio)
        self.global_predictor = nn.Sequential(
            nn.LayerNorm(embed_dims), nn.Linear(embed_dims, target_dims))
        self.apply(init_transformer_weights)

    @property
    def num_levels(self) -> int:
        """Local levels plus the global one."""
        return len(self.stages) + 1

    @property
    def level_dims(self) -> List[int]:
        """Width of the prediction at each level, local levels first: ``C_t`` each."""
        return [self.target_dims] * self.num_levels

    def forward(self, latent: torch.Tensor, visible_index: torch.Tensor) -> List[torch.Tensor]:
        """Predict every level's targets.

        Args:
            latent (torch.Tensor): ``(B, L_vis, D_in)`` encoder output on the visible
                tokens.
            visible_index (torch.Tensor): ``(B, L_vis)`` their grid positions.

        Returns:
            list[torch.Tensor]: one ``(B, n_k, C_t)`` tensor per level, ``n_k`` = 150, 75,
            25, 1 by default.
        """
        grid = self.grid(latent, visible_index)  # (B, T_e, V, D)
        predictions = []
        for factor, stage, predictor in zip(self.pool_factors, self.stages, self.predictors):
            grid = temporal_avg_pool(grid, factor)
            B, rows, V, D = grid.shape
            tokens = stage(grid.flatten(1, 2))
            predictions.append(predictor(tokens))
            grid = tokens.reshape(B, rows, V, D)
        predictions.append(self.global_predictor(self._global_token(tokens)))
        return predictions

    def _global_token(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, n, D)`` last-level tokens -> ``(B, 1, D)``."""
        if self.global_token == 'mean_mlp':
            return self.global_stage(tokens.mean(dim=1, keepdim=True))
        query = self.global_query.expand(tokens.shape[0], -1, -1).to(tokens.dtype)
        return self.global_stage(torch.cat([query, tokens], dim=1))[:, :1]


def cascade_pool_factors(num_rows: int, pool_kernels: Sequence[int]) -> List[int]:
    """Absolute pooling kernels (patch rows per token) -> per-level cascade factors.

    >>> cascade_pool_factors(30, (5, 10, 30))
    [5, 2, 3]
    """
    factors, covered = [], 1
    for kernel in pool_kernels:
        if kernel <= 0 or kernel % covered or num_rows % kernel:
            raise ValueError(
                f'pool_kernels={tuple(pool_kernels)} do not nest over {num_rows} patch rows: '
                'each kernel must divide the number of patch rows and be a multiple of '
                'the previous kernel')
        factors.append(kernel // covered)
        covered = kernel
    return factors
