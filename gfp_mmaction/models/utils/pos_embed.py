"""Learned factorised positional embedding over the (patch row, joint) token grid."""
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['FactorisedPosEmbed']


class FactorisedPosEmbed(nn.Module):
    """A temporal ``(1, T_e, 1, D)`` plus a spatial ``(1, 1, V, D)`` embedding.

    Called with a row count other than the one it was trained for (a downstream clip
    of another length), the temporal table is linearly resized to it.
    """

    def __init__(self, num_rows: int, num_joints: int, dims: int, init_std: float = 0.02):
        super().__init__()
        self.temporal = nn.Parameter(torch.zeros(1, num_rows, 1, dims))
        self.spatial = nn.Parameter(torch.zeros(1, 1, num_joints, dims))
        nn.init.trunc_normal_(self.temporal, std=init_std)
        nn.init.trunc_normal_(self.spatial, std=init_std)

    def forward(self, num_rows: int) -> torch.Tensor:
        """Returns ``(1, num_rows, V, D)``."""
        temporal = self.temporal
        if num_rows != temporal.shape[1]:
            table = temporal[:, :, 0].transpose(1, 2)  # (1, D, T_e)
            table = F.interpolate(table, size=num_rows, mode='linear', align_corners=False)
            temporal = table.transpose(1, 2).unsqueeze(2)
        return temporal + self.spatial
