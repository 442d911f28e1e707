"""Probes of frozen features: a logistic-regression linear probe and motion energy.

The linear probe of the MMAction2 protocol (``configs/gfp/linear_*.py``) trains a linear
head with the runner on every epoch's augmented clips. For comparing many pre-trainings
(ablations), features are extracted once (``tools/extract_features.py``) and probed here:
multinomial logistic regression on standardised features, fitted by L-BFGS to
convergence, with its L2 strength chosen on a held-out fifth of the training set. It is
deterministic: the same features give the same accuracy.
"""
from typing import Dict, Sequence

import numpy as np
import torch

__all__ = ['linear_probe_accuracy', 'motion_energy_features', 'fit_logistic_regression']

L2_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def _standardise(train: torch.Tensor, *others: torch.Tensor):
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    return [(x - mean) / std for x in (train, *others)]


def fit_logistic_regression(x: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float,
                            max_iter: int = 500) -> torch.Tensor:
    """Multinomial logistic regression by L-BFGS.

    Minimises ``mean_i CE(x_i W + b, y_i) + l2 * ||W||^2`` (the bias is not penalised).

    Args:
        x (torch.Tensor): ``(N, C)`` float64 features.
        y (torch.Tensor): ``(N,)`` int64 labels in ``[0, num_classes)``.
        num_classes (int): number of classes ``K``.
        l2 (float): L2 strength on the weights.
        max_iter (int): L-BFGS iterations.

    Returns:
        torch.Tensor: ``(C + 1, K)``: the weights, then the bias row.
    """
    params = torch.zeros(x.shape[1] + 1, num_classes, dtype=torch.float64,
                         requires_grad=True)
    optimiser = torch.optim.LBFGS([params], lr=1.0, max_iter=max_iter,
                                  tolerance_grad=1e-9, tolerance_change=1e-12,
                                  line_search_fn='strong_wolfe')

    def closure():
        optimiser.zero_grad()
        logits = x @ params[:-1] + params[-1]
        loss = torch.nn.functional.cross_entropy(logits, y) + l2 * params[:-1].pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return params.detach()


def _accuracy(params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(((x @ params[:-1] + params[-1]).argmax(1) == y).double().mean())


def linear_probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
                          val_y: np.ndarray, l2_grid: Sequence[float] = L2_GRID,
                          seed: int = 0) -> Dict[str, float]:
    """Top-1 accuracy of a logistic-regression probe trained on ``train`` and tested on
    ``val``.

    The L2 strength is the one of ``l2_grid`` with the best accuracy on a random fifth
    of the training set (drawn with ``seed``) after fitting on the other four fifths;
    the probe is then refitted on the whole training set. Features are standardised with
    the training set's mean and std.

    Args:
        train_x (np.ndarray): ``(N, C)`` training features.
        train_y (np.ndarray): ``(N,)`` training labels.
        val_x (np.ndarray): ``(M, C)`` validation features.
        val_y (np.ndarray): ``(M,)`` validation labels.
        l2_grid (Sequence[float]): candidate L2 strengths.
        seed (int): seed of the held-out split.

    Returns:
        dict: ``top1`` (float in [0, 1]) and the chosen ``l2``.
    """
    train_x, val_x = (torch.as_tensor(np.asarray(a), dtype=torch.float64)
                      for a in (train_x, val_x))
    train_y, val_y = (torch.as_tensor(np.asarray(a), dtype=torch.int64)
                      for a in (train_y, val_y))
    if train_x.ndim != 2 or val_x.ndim != 2 or train_x.shape[1] != val_x.shape[1]:
        raise ValueError(f'linear_probe_accuracy: features must be (N, C) and (M, C), got '
                         f'{tuple(train_x.shape)} and {tuple(val_x.shape)}')
    if len(train_y) != len(train_x) or len(val_y) != len(val_x):
        raise ValueError('linear_probe_accuracy: one label per feature row is needed')
    num_classes = int(max(train_y.max(), val_y.max())) + 1
    order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
    held, fit = order[:len(order) // 5], order[len(order) // 5:]
    fx, hx = _standardise(train_x[fit], train_x[held])
    scores = [_accuracy(fit_logistic_regression(fx, train_y[fit], num_classes, l2), hx,
                        train_y[held]) for l2 in l2_grid]
    l2 = l2_grid[int(np.argmax(scores))]
    tx, vx = _standardise(train_x, val_x)
    params = fit_logistic_regression(tx, train_y, num_classes, l2)
    return dict(top1=_accuracy(params, vx, val_y), l2=float(l2))


def motion_energy_features(keypoint: np.ndarray, max_persons: int = 2) -> np.ndarray:
    """Per-joint motion energy of one clip: the temporal std of every joint coordinate.

    Frames where a person's joint was not recorded (all coordinates 0) are left out of
    that joint's std; a person absent from the clip gives zeros.

    Args:
        keypoint (np.ndarray): ``(M, T, V, C)`` joint coordinates.
        max_persons (int): persons kept (the first ones), zero-padded to this count.

    Returns:
        np.ndarray: ``(max_persons * V * C,)`` float64.
    """
    kp = np.asarray(keypoint, dtype=np.float64)[:max_persons]
    M, _, V, C = kp.shape
    out = np.zeros((max_persons, V, C))
    seen = np.any(kp != 0, axis=-1, keepdims=True)  # (M, T, V, 1)
    count = seen.sum(1)  # (M, V, 1)
    mean = (kp * seen).sum(1) / np.maximum(count, 1)
    var = (((kp - mean[:, None]) * seen) ** 2).sum(1) / np.maximum(count, 1)
    out[:M] = np.sqrt(var)
    return out.reshape(-1)
