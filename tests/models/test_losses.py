"""GFP's loss terms against hand-computed values."""
import math

import pytest
import torch

from gfp_mmaction.models.losses import (
    MultiLevelMSELoss,
    VarianceCovarianceLoss,
    covariance_loss,
    variance_loss,
)


def test_variance_loss_by_hand():
    # column 0: 0, 2, 4 -> unbiased var 4 -> std ~2 -> hinge 0
    # column 1: 0, 0.2, 0.4 -> var 0.04 -> std sqrt(0.0401)
    z = torch.tensor([[0., 0.], [2., .2], [4., .4]])
    expected = (max(0, 1 - math.sqrt(4 + 1e-4)) + (1 - math.sqrt(0.04 + 1e-4))) / 2
    assert variance_loss(z).item() == pytest.approx(expected, rel=1e-6)


def test_covariance_loss_by_hand():
    # centred columns a = (-1, 0, 1), b = (-2, 0, 2), c = (1, 0, -1); n - 1 = 2
    # cov(a, b) = 4 / 2 = 2, cov(a, c) = -2 / 2 = -1, cov(b, c) = -4 / 2 = -2
    z = torch.tensor([[0., 0., 2.], [1., 2., 1.], [2., 4., 0.]])
    off_diagonal = 2 * (2 ** 2 + 1 ** 2 + 2 ** 2)
    assert covariance_loss(z).item() == pytest.approx(off_diagonal / 3, rel=1e-6)


def test_covariance_loss_is_zero_for_uncorrelated_columns():
    z = torch.tensor([[1., 1.], [1., -1.], [-1., 1.], [-1., -1.]])
    assert covariance_loss(z).item() == pytest.approx(0.0, abs=1e-7)


def test_zero_weight_rows_are_left_out():
    z = torch.tensor([[0., 0.], [2., .2], [4., .4]])
    padded = torch.cat([z, torch.zeros(5, 2)])
    weight = torch.tensor([1., 1., 1., 0, 0, 0, 0, 0])
    assert variance_loss(padded, weight).item() == pytest.approx(variance_loss(z).item())
    assert covariance_loss(padded, weight).item() == pytest.approx(covariance_loss(z).item())
    # without the weight the zero rows do change the statistics
    assert variance_loss(padded).item() != pytest.approx(variance_loss(z).item())


def test_regularizer_sums_levels_with_paper_weights():
    torch.manual_seed(0)
    levels = [torch.randn(2, 6, 4), torch.randn(2, 3, 4), torch.randn(2, 1, 4)]
    out = VarianceCovarianceLoss(var_weight=1.0, cov_weight=5.0)(levels)
    var = sum(variance_loss(level.reshape(-1, 4)) for level in levels)
    cov = sum(covariance_loss(level.reshape(-1, 4)) for level in levels)
    assert out['loss_var'].item() == pytest.approx(var.item(), rel=1e-6)
    assert out['loss_cov'].item() == pytest.approx(5 * cov.item(), rel=1e-6)


def test_multi_level_mse_is_weighted_mean_of_level_mses():
    pred = [torch.zeros(2, 3, 2), torch.zeros(2, 1, 2)]
    target = [torch.ones(2, 3, 2), torch.full((2, 1, 2), 3.)]
    # level MSEs 1 and 9 -> mean 5 -> x5
    assert MultiLevelMSELoss(loss_weight=5.0)(pred, target).item() == pytest.approx(25.0)
    # a padded second person (weight 0) with a huge error does not count
    target[0][1] = 100.
    target[1][1] = 100.
    weight = torch.tensor([1., 0.])
    assert MultiLevelMSELoss(loss_weight=1.0)(pred, target, weight).item() == pytest.approx(5.0)
    assert MultiLevelMSELoss(loss_weight=1.0, level_weights=(3, 1))(
        pred, target, weight).item() == pytest.approx(0.75 * 1 + 0.25 * 9)


def test_regularizer_uses_the_whole_data_parallel_batch_by_default():
    from gfp_mmaction.models.heads import GFPHead
    assert VarianceCovarianceLoss().gather_distributed is True
    assert GFPHead().regularizer.gather_distributed is True
    # outside a process group (or with one process) both settings are the same loss
    torch.manual_seed(1)
    levels = [torch.randn(3, 5, 4), torch.randn(3, 1, 4)]
    weight = torch.tensor([1., 0., 1.])
    gathered = VarianceCovarianceLoss()(levels, weight)
    local = VarianceCovarianceLoss(gather_distributed=False)(levels, weight)
    for key in ('loss_var', 'loss_cov'):
        assert gathered[key].item() == local[key].item()


def test_weighted_covariance_by_hand():
    from gfp_mmaction.models.losses import batch_covariances
    # rows 0, 2, 3 count (row 1 is a padded person's): columns (1, 3, 5) and (2, 2, 8)
    z = torch.tensor([[1., 2.], [100., -100.], [3., 2.], [5., 8.]])
    w = torch.tensor([1., 0., 1., 1.])
    (cov, ) = batch_covariances([z], [w])
    # means 3 and 4; centred (-2, 0, 2) and (-2, -2, 4); n - 1 = 2
    expected = torch.tensor([[8. / 2, 12. / 2], [12. / 2, 24. / 2]])
    torch.testing.assert_close(cov, expected)


def test_mamp_head_by_hand_with_and_without_padded_persons():
    from gfp_mmaction.models.heads import MAMPHead
    prediction = torch.zeros(2, 3, 2)
    # normalised target patches (MAMPHead.construct_target): (1, 3) -> (-1, 1) /
    # sqrt(2 + 1e-6); (0, 2) the same; (4, 4) and the padded person's zeros -> 0.
    # Per-token MSE: 0.5 * 2 / (2 + 1e-6) each for person 0's first two, 0 otherwise.
    r = 1 / (2 + 1e-6) ** 0.5
    target = torch.tensor([[[-r, r], [-r, r], [0., 0.]],
                           [[0., 0.], [0., 0.], [0., 0.]]])  # person 1: padding
    mask = torch.tensor([[True, True, False], [True, False, True]])
    weight = torch.tensor([1., 0.])
    token = 1 / (2 + 1e-6)
    like_for_like = MAMPHead().loss(prediction, target, mask, weight)['loss_pred']
    published = MAMPHead(count_padded_persons=True).loss(prediction, target, mask,
                                                         weight)['loss_pred']
    assert like_for_like.item() == pytest.approx(2 * token / 2, rel=1e-6)  # 2 masked tokens
    assert published.item() == pytest.approx(2 * token / 4, rel=1e-6)  # and 2 padded ones


def test_loss_defaults_are_the_papers():
    # dict(type='MultiLevelMSELoss') / dict(type='VarianceCovarianceLoss') alone: 5, 1 / 5
    pred, target = [torch.zeros(1, 2, 2)], [torch.ones(1, 2, 2)]
    assert MultiLevelMSELoss()(pred, target).item() == pytest.approx(5.0)
    z = [torch.tensor([[[0., 0.], [1., 1.]]])]  # two rows, perfectly correlated columns
    out = VarianceCovarianceLoss()(z)
    # Var = Cov = 0.5 per column: L_var = 1 - sqrt(0.5 + 1e-4), L_cov = 2 * 0.25 / 2
    assert out['loss_var'].item() == pytest.approx(1 - math.sqrt(0.5 + 1e-4), rel=1e-6)
    assert out['loss_cov'].item() == pytest.approx(5 * 0.25, rel=1e-6)
