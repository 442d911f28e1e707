"""The TGN options the ablations compare, each against an independent reference:
hidden norm (LN / BN / none), pooling order (pool_mlp / mlp_pool / concat) and the input
(motion / joints)."""
import pytest
import torch
from torch import nn

from gfp_mmaction.models.target_generators import MotionTargetGenerator, make_mlp
from gfp_mmaction.models.target_generators.motion_tgn import TokenBatchNorm, concat_windows

from reference_math import (
    randomise,
    ref_frame_motion,
    ref_gelu,
    ref_linear,
    ref_mlp,
    ref_patches,
    ref_pool_rows,
)

KERNELS = (2, 4, 8)


def tgn_and_joints(seed, **options):
    g = torch.Generator().manual_seed(seed)
    tgn = MotionTargetGenerator(pool_kernels=KERNELS, target_dims=5, local_hidden=7,
                                global_hidden=9, **options)
    randomise(tgn, g, std=0.2)
    return tgn, torch.randn(2, 32, 25, 3, generator=g)


def ref_concat(grid, kernel):
    """``(B, R, V, D)`` -> ``(B, R / kernel, V, kernel * D)`` with explicit loops."""
    B, R, V, D = grid.shape
    out = torch.zeros(B, R // kernel, V, kernel * D, dtype=grid.dtype)
    for w in range(R // kernel):
        for v in range(V):
            for i in range(kernel):
                out[:, w, v, i * D:(i + 1) * D] = grid[:, w * kernel + i, v]
    return out


def test_concat_windows_by_hand():
    x = torch.arange(2 * 4 * 1 * 2, dtype=torch.float32).reshape(2, 4, 1, 2)
    # sample 0 rows: [0 1] [2 3] [4 5] [6 7]; windows of 2 rows side by side
    expected = torch.tensor([[[[0., 1., 2., 3.]], [[4., 5., 6., 7.]]],
                             [[[8., 9., 10., 11.]], [[12., 13., 14., 15.]]]])
    assert torch.equal(concat_windows(x, 2), expected)
    with pytest.raises(ValueError, match='not divisible'):
        concat_windows(x, 3)


def test_concat_pooling_keeps_each_windows_motion_in_order():
    tgn, joints = tgn_and_joints(1, pooling='concat')
    targets = tgn(joints)
    motion = ref_patches(ref_frame_motion(joints.double()))  # (B, 8, 25, 12)
    for k, kernel in enumerate(KERNELS):
        assert tgn.local_mlps[k][0].in_features == 12 * kernel
        windows = ref_concat(motion, kernel).flatten(1, 2)
        torch.testing.assert_close(targets[k].double(), ref_mlp(windows, tgn.local_mlps[k]),
                                   rtol=1e-4, atol=1e-5)
    descriptor = ref_concat(motion, KERNELS[-1]).mean(1).flatten(1)  # 25 x 8 x 12 values
    torch.testing.assert_close(targets[3][:, 0].double(), ref_mlp(descriptor, tgn.global_mlp),
                               rtol=1e-4, atol=1e-5)


def test_mlp_then_pool_averages_the_mlp_outputs_of_each_patch():
    tgn, joints = tgn_and_joints(2, pooling='mlp_pool')
    targets = tgn(joints)
    motion = ref_patches(ref_frame_motion(joints.double()))
    for k, kernel in enumerate(KERNELS):
        per_patch = ref_mlp(motion, tgn.local_mlps[k])  # (B, 8, 25, 5)
        torch.testing.assert_close(targets[k].double(),
                                   ref_pool_rows(per_patch, kernel).flatten(1, 2),
                                   rtol=1e-4, atol=1e-5)
    rows = ref_mlp(motion.flatten(2), tgn.global_mlp)  # every patch row, all joints
    torch.testing.assert_close(targets[3][:, 0].double(), rows.mean(1), rtol=1e-4, atol=1e-5)


def test_joint_source_feeds_the_joints_patches_not_their_motion():
    tgn, joints = tgn_and_joints(3, source='joints')
    targets = tgn(joints)
    patches = ref_patches(joints.double())
    torch.testing.assert_close(
        targets[0].double(), ref_mlp(ref_pool_rows(patches, 2).flatten(1, 2),
                                     tgn.local_mlps[0]), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(targets[3][:, 0].double(),
                               ref_mlp(patches.mean(1).flatten(1), tgn.global_mlp),
                               rtol=1e-4, atol=1e-5)


def test_mlp_without_norm_is_linear_gelu_linear_gelu_linear():
    g = torch.Generator().manual_seed(4)
    mlp = randomise(make_mlp(4, 6, 3, num_layers=3, norm='none'), g)
    assert [type(m) for m in mlp] == [nn.Linear, nn.GELU, nn.Linear, nn.GELU, nn.Linear]
    x = torch.randn(5, 4, generator=g).double()
    expected = ref_linear(ref_gelu(ref_linear(ref_gelu(ref_linear(x, mlp[0])), mlp[2])),
                          mlp[4])
    torch.testing.assert_close(mlp(x.float()).double(), expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_takes_its_statistics_over_every_token_of_the_batch():
    g = torch.Generator().manual_seed(5)
    bn = randomise(TokenBatchNorm(3), g)
    x = torch.randn(2, 4, 3, generator=g).double()  # 8 tokens
    flat = x.reshape(8, 3)
    mean, var = flat.mean(0), flat.var(0, unbiased=False)
    expected = (x - mean) / torch.sqrt(var + bn.eps) * bn.weight.double() + bn.bias.double()
    torch.testing.assert_close(bn.double()(x), expected)
    mlp = make_mlp(4, 6, 3, num_layers=3, norm='BN')
    assert [type(m) for m in mlp].count(TokenBatchNorm) == 2


@pytest.mark.parametrize('option, value', [('norm', 'GN'), ('pooling', 'max'),
                                           ('source', 'velocity')])
def test_unknown_option_values_are_refused(option, value):
    with pytest.raises(ValueError, match=f'{option}={value!r}'):
        MotionTargetGenerator(**{option: value})
