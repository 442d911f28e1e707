"""Row weights: padded (all-zero) persons must not count in losses or statistics."""
import torch

__all__ = ['expand_row_weight', 'weighted_mean']


def expand_row_weight(weight, num_rows: int, tokens_per_row: int, like: torch.Tensor):
    """Per-sequence weights ``(B,)`` (or None = all 1) -> per-token weights ``(B * n,)``."""
    if weight is None:
        return like.new_ones(num_rows * tokens_per_row)
    return weight.to(like.dtype).repeat_interleave(tokens_per_row)


def weighted_mean(values: torch.Tensor, weight) -> torch.Tensor:
    """Mean of ``(B,)`` values with ``(B,)`` weights (plain mean when weight is None)."""
    if weight is None:
        return values.mean()
    weight = weight.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp(min=1)
