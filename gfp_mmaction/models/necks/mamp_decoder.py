"""MAMP's decoder: full-resolution transformer predicting every token's motion."""
from typing import Optional

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from ..utils import TransformerBlock, init_transformer_weights
from .mask_token_grid import MaskTokenGrid

__all__ = ['MAMPDecoder']


@MODELS.register_module()
class MAMPDecoder(BaseModule):
    """``depth`` blocks over all ``T_e * V`` tokens (750), then a linear map to each
    token's ``patch_len * C`` motion values. This is the 17.7-GFLOP part GFP replaces.

    Returns ``(B, L, out_dims)`` from ``(B, L_vis, in_dims)`` latents and their positions.
    """

    def __init__(self, in_dims: int = 256, embed_dims: int = 256, num_rows: int = 30,
                 num_joints: int = 25, depth: int = 5, num_heads: int = 8,
                 mlp_ratio: float = 4.0, out_dims: int = 12,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.grid = MaskTokenGrid(in_dims, embed_dims, num_rows, num_joints)
        self.blocks = nn.Sequential(
            *(TransformerBlock(embed_dims, num_heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(embed_dims)
        self.predictor = nn.Linear(embed_dims, out_dims)
        self.apply(init_transformer_weights)

    def forward(self, latent: torch.Tensor, visible_index: torch.Tensor) -> torch.Tensor:
        tokens = self.grid(latent, visible_index).flatten(1, 2)
        return self.predictor(self.norm(self.blocks(tokens)))
