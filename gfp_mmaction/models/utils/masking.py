"""Index helpers between the full token grid and the visible subset.

Masks follow MAE's convention: ``True`` = masked (hidden from the encoder). Every
sequence of a batch has the same number of visible tokens (the masking transforms
guarantee it), so the visible tokens form a dense ``(B, L_vis, D)`` tensor.
"""
import torch

__all__ = ['visible_indices', 'gather_visible', 'scatter_visible']


def visible_indices(mask: torch.Tensor, num_visible: int) -> torch.Tensor:
    """Positions of the visible tokens, in increasing order.

    Args:
        mask (torch.Tensor): ``(B, L)`` bool, True = masked, exactly ``num_visible``
            False per row.
        num_visible (int): ``L_vis``; passed in (it is known on the host) so that no
            device-to-host sync is needed here.

    Returns:
        torch.Tensor: ``(B, L_vis)`` long.
    """
    # A stable sort puts the False (visible) entries first, in token order.
    order = torch.sort(mask.to(torch.uint8), dim=1, stable=True).indices
    return order[:, :num_visible]


def gather_visible(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``(B, L, D)`` tokens, ``(B, L_vis)`` index -> ``(B, L_vis, D)``."""
    return torch.gather(tokens, 1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def scatter_visible(visible: torch.Tensor, index: torch.Tensor, fill: torch.Tensor,
                    length: int) -> torch.Tensor:
    """Place visible tokens back on the full grid, ``fill`` elsewhere.

    Args:
        visible (torch.Tensor): ``(B, L_vis, D)``.
        index (torch.Tensor): ``(B, L_vis)`` positions of ``visible`` in the grid.
        fill (torch.Tensor): ``(D,)`` the token for every other position (the mask
            token).
        length (int): ``L``.

    Returns:
        torch.Tensor: ``(B, L, D)``.
    """
    B, _, D = visible.shape
    full = fill.to(visible.dtype).expand(B, length, D).clone()
    return full.scatter(1, index.unsqueeze(-1).expand(-1, -1, D), visible)
