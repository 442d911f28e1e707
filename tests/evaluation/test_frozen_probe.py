"""Frozen-feature probes: logistic regression and motion energy, by hand."""
import numpy as np
import pytest
import torch

from gfp_mmaction.evaluation.frozen_probe import (
    fit_logistic_regression,
    linear_probe_accuracy,
    motion_energy_features,
)


def test_logistic_regression_reaches_the_stationary_point_of_its_objective():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (60,), generator=g)
    l2 = 0.05
    params = fit_logistic_regression(x, y, 3, l2).requires_grad_(True)
    # the objective written out: mean cross-entropy of softmax(x W + b) + l2 * ||W||^2
    logits = x @ params[:-1] + params[-1]
    log_p = logits - torch.logsumexp(logits, 1, keepdim=True)
    loss = -log_p[torch.arange(60), y].mean() + l2 * (params[:-1] ** 2).sum()
    loss.backward()
    assert params.grad.abs().max() < 1e-6


def test_linear_probe_separates_separable_classes_and_standardises_with_train_stats():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]) * 1e3  # large offsets
    train_y, val_y = np.repeat(np.arange(3), 20), np.repeat(np.arange(3), 5)
    train_x = centres[train_y] + rng.normal(0, 1, (60, 2))
    val_x = centres[val_y] + rng.normal(0, 1, (15, 2))
    out = linear_probe_accuracy(train_x, train_y, val_x, val_y)
    assert out['top1'] == 1.0
    # validation features reversed against their labels: only the middle class still matches
    out = linear_probe_accuracy(train_x, train_y, val_x[::-1].copy(), val_y)
    assert out['top1'] == pytest.approx(np.mean(val_y[::-1] == val_y))


def test_linear_probe_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match=r'\(N, C\) and \(M, C\)'):
        linear_probe_accuracy(np.zeros((4, 2)), np.zeros(4), np.zeros((3, 5)), np.zeros(3))
    with pytest.raises(ValueError, match='one label per feature row'):
        linear_probe_accuracy(np.zeros((4, 2)), np.zeros(3), np.zeros((3, 2)), np.zeros(3))


def test_motion_energy_is_the_std_over_the_frames_where_a_joint_was_seen():
    kp = np.zeros((1, 4, 2, 3))
    kp[0, :, 0, 0] = [1.0, 3.0, 1.0, 3.0]          # std 1
    kp[0, :, 1, :] = [[2, 2, 2], [0, 0, 0], [4, 4, 4], [0, 0, 0]]  # seen twice: std 1
    feats = motion_energy_features(kp, max_persons=2).reshape(2, 2, 3)
    np.testing.assert_allclose(feats[0], [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(feats[1], 0.0)  # the absent second person
