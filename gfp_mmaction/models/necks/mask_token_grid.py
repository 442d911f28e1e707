"""The common entry of every decoder: visible latents back on the full token grid."""
import torch
from torch import nn

from ..utils import FactorisedPosEmbed, scatter_visible

__all__ = ['MaskTokenGrid']


class MaskTokenGrid(nn.Module):
    """Linear embed of the encoder output, a shared mask token at every masked position,
    and the decoder's own positional embedding.

    ``(B, L_vis, D_in)`` latents + ``(B, L_vis)`` positions -> ``(B, T_e, V, D)`` grid.
    """

    def __init__(self, in_dims: int, embed_dims: int, num_rows: int, num_joints: int):
        super().__init__()
        self.num_rows = num_rows
        self.num_joints = num_joints
        self.embed = nn.Linear(in_dims, embed_dims)
        self.mask_token = nn.Parameter(torch.zeros(embed_dims))
        nn.init.normal_(self.mask_token, std=0.02)
        self.pos_embed = FactorisedPosEmbed(num_rows, num_joints, embed_dims)

    def forward(self, latent: torch.Tensor, visible_index: torch.Tensor) -> torch.Tensor:
        tokens = scatter_visible(self.embed(latent), visible_index, self.mask_token,
                                 self.num_rows * self.num_joints)
        grid = tokens.reshape(latent.shape[0], self.num_rows, self.num_joints, -1)
        return grid + self.pos_embed(self.num_rows)
