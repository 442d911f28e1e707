"""GFP's anti-collapse ("information maximisation") regulariser, VICReg-style.

``L_var`` and ``L_cov`` are functions of batch statistics (per-feature mean, variance and
covariance over every token of a level in the batch), so they are not a mean of
per-sample terms: under data parallelism, W processes x B / W samples each would train
another objective than one process x B if each process used its own share. By default
the statistics are therefore pooled over all processes (``gather_distributed=True``):

1. ``[sum_w, sum_w z]`` of every level is summed over the processes (one all-reduce), which
   gives every process the mean of the whole batch;
2. each process centres its rows with that mean and sums ``w (z - mean)(z - mean)^T``; the
   ``C_t x C_t`` matrices are summed over the processes (a second all-reduce).

Every process then holds the whole batch's covariance and computes the same ``L_var``
and ``L_cov`` as one process with the whole batch. Rows of padded persons have weight 0
in both sums, whichever process holds them. This exchanges ``C_t + 1`` and ``C_t^2``
numbers per level instead of every row (all-gathering the TGN outputs, as VICReg does,
would move ``B * 251 * C_t`` numbers per process and needs equal shares), and processes
may hold different numbers of rows.

The all-reduces are differentiable: the backward pass sums the gradient over the
processes too. Each process's loss is the same global ``L``, so process ``r`` receives
``W * dL/d(its statistics)``; DDP's gradient averaging divides by ``W``, and the model
gets exactly ``dL/dtheta`` of the whole batch. (The prediction loss stays per process: it
is a mean of per-token terms, which DDP's averaging already turns into the mean over the
whole batch when the processes hold the same number of real persons.)
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from mmaction.registry import MODELS
from torch import nn

from .weighting import expand_row_weight

__all__ = ['VarianceCovarianceLoss', 'variance_loss', 'covariance_loss', 'all_reduce_sum',
           'batch_covariances']


class _AllReduceSum(torch.autograd.Function):
    """``sum`` over the processes of the default group, with the gradient summed too.

    ``y = sum_r x_r`` on every process; the objective of data-parallel training is
    ``sum_r L_r(y)``, whose gradient with respect to ``x_r`` is ``sum_r' dL_r'/dy``:
    the all-reduced incoming gradient.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.detach().clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def distributed_world_size() -> int:
    """Processes of the default group (1 without ``torch.distributed``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Differentiable sum over all processes (identity for a single process)."""
    if distributed_world_size() == 1:
        return tensor
    return _all_reduce_sum_eager(tensor)


@torch.compiler.disable
def _all_reduce_sum_eager(tensor: torch.Tensor) -> torch.Tensor:
    # Run eagerly under torch.compile (a graph break in data-parallel runs only): the
    # collective and its autograd Function stay out of the traced graph.
    return _AllReduceSum.apply(tensor)


def _local_sum(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def batch_covariances(levels: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                      reduce=_local_sum) -> List[torch.Tensor]:
    """Unbiased weighted covariance ``(C, C)`` of each ``(n_k, C)`` row set.

    ``Cov = sum_rows w (z - mean)(z - mean)^T / (sum w - 1)``, ``mean = sum w z / sum w``
    (rows of weight 0 are left out). ``reduce`` sums a tensor over whatever holds the
    other parts of the batch (:func:`all_reduce_sum` for the processes of a data-parallel
    run); it is called twice in all, once for the first moments of every level and once
    for the second.
    """
    levels = [z.float() for z in levels]
    weights = [w.to(z.dtype) for z, w in zip(levels, weights)]
    first = torch.cat([torch.cat([w.sum().reshape(1), (w[:, None] * z).sum(0)])
                       for z, w in zip(levels, weights)])
    first = reduce(first).split([z.shape[1] + 1 for z in levels])
    centred, totals = [], []
    for z, stats in zip(levels, first):
        total, weighted_sum = stats[0], stats[1:]
        centred.append(z - weighted_sum / total.clamp(min=1))
        totals.append(total)
    second = torch.cat([((w[:, None] * c).T @ c).flatten() for c, w in zip(centred, weights)])
    second = reduce(second).split([z.shape[1] ** 2 for z in levels])
    return [moment.view(z.shape[1], z.shape[1]) / (total - 1).clamp(min=1)
            for z, moment, total in zip(levels, second, totals)]


def variance_term(cov: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """``(1 / C) * sum_i max(0, 1 - sqrt(Cov[i, i] + eps))``."""
    return torch.relu(1 - torch.sqrt(cov.diagonal() + eps)).mean()


def covariance_term(cov: torch.Tensor) -> torch.Tensor:
    """``(1 / C) * sum_{i != j} Cov[i, j]^2``."""
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / cov.shape[0]


def _weight(z: torch.Tensor, weight: Optional[torch.Tensor]) -> torch.Tensor:
    return z.new_ones(z.shape[0]) if weight is None else weight


def variance_loss(z: torch.Tensor, weight: Optional[torch.Tensor] = None,
                  eps: float = 1e-4) -> torch.Tensor:
    """``(1 / C) * sum_i max(0, 1 - sqrt(Var(z[:, i]) + eps))`` of one process's rows.

    Args:
        z (torch.Tensor): ``(n, C)`` rows = samples (tokens), columns = feature dims.
        weight (torch.Tensor, optional): ``(n,)`` 0/1 row weights (rows with 0 are left
            out), or None. Defaults to None.
        eps (float): inside the square root. Defaults to 1e-4.

    Returns:
        torch.Tensor: scalar. The variance is unbiased (divides by ``n - 1``), as in VICReg.
    """
    return variance_term(batch_covariances([z], [_weight(z, weight)])[0], eps)


def covariance_loss(z: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``(1 / C) * sum_{i != j} Cov(z)[i, j]^2`` on centred features, one process's rows.

    Args:
        z (torch.Tensor): ``(n, C)``.
        weight (torch.Tensor, optional): ``(n,)`` 0/1 row weights, or None. Defaults to
            None.

    Returns:
        torch.Tensor: scalar.
    """
    return covariance_term(batch_covariances([z], [_weight(z, weight)])[0])


@MODELS.register_module()
class VarianceCovarianceLoss(nn.Module):
    """Sums the variance and covariance terms over target levels.

    Each level's targets ``(B, n_k, C_t)`` become ``B * n_k`` rows; rows of padded
    persons get weight 0. Returns ``loss_var = var_weight * sum_k L_var`` and
    ``loss_cov = cov_weight * sum_k L_cov`` (paper: 1 and 5).

    Args:
        var_weight (float): weight of ``L_var`` (paper: 1). Defaults to 1.0.
        cov_weight (float): weight of ``L_cov`` (paper: 5). Defaults to 5.0.
        eps (float): inside the square root of ``L_var`` (paper: 1e-4). Defaults to
            1e-4.
        gather_distributed (bool): in a data-parallel run, compute the statistics over
            the whole batch of all processes (default: the objective does not depend on
            the number of processes); False = each process's own share (the objective
            then changes with the per-process batch). Defaults to True.
    """

    def __init__(self, var_weight: float = 1.0, cov_weight: float = 5.0, eps: float = 1e-4,
                 gather_distributed: bool = True):
        super().__init__()
        self.var_weight = var_weight
        self.cov_weight = cov_weight
        self.eps = eps
        self.gather_distributed = gather_distributed

    def rows(self, targets: Sequence[torch.Tensor], weight: Optional[torch.Tensor] = None
             ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Per level, the ``(B * n_k, C_t)`` rows and their ``(B * n_k,)`` weights."""
        rows, weights = [], []
        for level in targets:
            B, n, C = level.shape
            rows.append(level.reshape(B * n, C))
            weights.append(expand_row_weight(weight, B, n, rows[-1]))
        return rows, weights

    def forward(self, targets: Sequence[torch.Tensor],
                weight: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        reduce = all_reduce_sum if self.gather_distributed else _local_sum
        covariances = batch_covariances(*self.rows(targets, weight), reduce=reduce)
        loss_var = sum(variance_term(cov, self.eps) for cov in covariances)
        loss_cov = sum(covariance_term(cov) for cov in covariances)
        return dict(loss_var=self.var_weight * loss_var, loss_cov=self.cov_weight * loss_cov)

    def extra_repr(self) -> str:
        return (f'var_weight={self.var_weight}, cov_weight={self.cov_weight}, eps={self.eps}, '
                f'gather_distributed={self.gather_distributed}')
