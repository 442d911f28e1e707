"""The MAMP skeleton transformer encoder, shared by GFP, MAMP and the downstream models."""
from typing import Optional, Tuple

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from ...utils import patchify
from ..utils import (FactorisedPosEmbed, TransformerBlock, gather_visible,
                     init_transformer_weights, visible_indices)

__all__ = ['SkeletonTransformer']


@MODELS.register_module()
class SkeletonTransformer(BaseModule):
    """Transformer over joint-track patches (MAMP's encoder).

    Each joint's track is cut into ``patch_len``-frame patches and embedded linearly
    (the same map as MAMP's ``(patch_len, 1)`` convolution), giving a ``(T_e, V)`` grid
    of tokens with factorised learned positional embeddings and no cls token.

    Two modes:
      * :meth:`forward_visible` (pre-training): only the visible tokens are encoded.
      * :meth:`forward` (downstream): every token; ``(N, M, T, V, C) -> (N, M, D, T_e, V)``,
        the layout MMAction2's ``RecognizerGCN`` and ``GCNHead`` expect.

    Args:
        in_channels: coordinates per joint ``C``.
        num_frames: clip length ``T`` the positional table is made for; other lengths
            divisible by ``patch_len`` are accepted (the table is resized).
        num_joints: ``V``.
        patch_len: frames per token ``l``.
        embed_dims: width ``D``.
        depth: transformer blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / ``D``.
        qkv_bias: bias on the qkv projection.
        drop_path_rate: stochastic depth of the last block (linear from 0).
        frozen: keep every parameter fixed and the module in eval mode (linear probe).
        init_cfg: MMEngine init config, e.g. ``dict(type='Pretrained', checkpoint=...,
            prefix='backbone.')``.
    """

    def __init__(self,
                 in_channels: int = 3,
                 num_frames: int = 120,
                 num_joints: int = 25,
                 patch_len: int = 4,
                 embed_dims: int = 256,
                 depth: int = 8,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.0,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.0,
                 frozen: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_frames % patch_len:
            raise ValueError(f'SkeletonTransformer: num_frames={num_frames} is not divisible '
                             f'by patch_len={patch_len}')
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.patch_len = patch_len
        self.embed_dims = embed_dims
        self.num_rows = num_frames // patch_len
        self.frozen = frozen

        self.patch_embed = nn.Linear(patch_len * in_channels, embed_dims)
        self.pos_embed = FactorisedPosEmbed(self.num_rows, num_joints, embed_dims)
        drop_rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dims, num_heads, mlp_ratio, qkv_bias, drop_path=rate)
            for rate in drop_rates)
        self.norm = nn.LayerNorm(embed_dims)
        self.apply(init_transformer_weights)
        if frozen:
            self.requires_grad_(False)

    def train(self, mode: bool = True):
        return super().train(mode and not self.frozen)

    @property
    def num_layers(self) -> int:
        """Blocks, for layer-wise learning-rate decay."""
        return len(self.blocks)

    def embed(self, joints: torch.Tensor) -> torch.Tensor:
        """``(B, T, V, C)`` joints -> ``(B, T_e, V, D)`` tokens with positions added."""
        *_, T, V, C = joints.shape
        if V != self.num_joints or C != self.in_channels:
            raise ValueError(f'SkeletonTransformer expects {self.num_joints} joints x '
                             f'{self.in_channels} coordinates, got input {tuple(joints.shape)}')
        tokens = self.patch_embed(patchify(joints, self.patch_len))
        return tokens + self.pos_embed(tokens.shape[1])

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L, D) -> (B, L, D)`` through the blocks and the final norm."""
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_visible(self, joints: torch.Tensor, mask: torch.Tensor,
                        num_visible: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pre-training mode: encode the visible tokens only.

        Args:
            joints: ``(B, T, V, C)``, persons folded into ``B``.
            mask: ``(B, L)`` bool, True = masked, ``L = T_e * V``.
            num_visible: visible tokens per sequence ``L_vis``.

        Returns:
            latent ``(B, L_vis, D)`` and the visible tokens' grid positions ``(B, L_vis)``.
        """
        tokens = self.embed(joints).flatten(1, 2)
        if mask.shape != tokens.shape[:2]:
            raise ValueError(f'token mask of shape {tuple(mask.shape)} does not match '
                             f'{tuple(tokens.shape[:2])} tokens (batch, T_e * V)')
        index = visible_indices(mask, num_visible)
        return self.encode(gather_visible(tokens, index)), index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Downstream mode: ``(N, M, T, V, C) -> (N, M, D, T_e, V)``."""
        N, M, T, V, C = x.shape
        tokens = self.embed(x.reshape(N * M, T, V, C))
        rows = tokens.shape[1]
        features = self.encode(tokens.flatten(1, 2))
        return features.reshape(N, M, rows, V, self.embed_dims).permute(0, 1, 4, 2, 3)
