"""The shared skeleton math, by hand, and its numpy and torch forms agreeing."""
import numpy as np
import pytest
import torch

from gfp_mmaction.utils import frame_motion, patchify, temporal_avg_pool, token_motion_magnitude


def test_patchify_is_frame_major_per_joint():
    # x[t, v, c] = 100 t + 10 v + c makes every value name its own position.
    t, v, c = np.meshgrid(np.arange(8), np.arange(2), np.arange(3), indexing='ij')
    x = (100 * t + 10 * v + c).astype(np.float32)
    patches = patchify(x, 4)
    assert patches.shape == (2, 2, 12)
    # row 1, joint 1: frames 4..7 of joint 1, xyz each
    expected = [100 * f + 10 + k for f in range(4, 8) for k in range(3)]
    np.testing.assert_array_equal(patches[1, 1], expected)


def test_patchify_rejects_indivisible_length():
    with pytest.raises(ValueError, match='not divisible by patch length 4'):
        patchify(np.zeros((10, 25, 3)), 4)


def test_frame_motion_is_forward_difference_with_zero_last_frame():
    x = np.array([0., 1., 4., 9.]).reshape(4, 1, 1)
    np.testing.assert_array_equal(frame_motion(x).ravel(), [1., 3., 5., 0.])


def test_token_motion_magnitude_by_hand():
    # one joint, three patch rows of two values
    patches = np.array([[1., 2.], [2., 0.], [5., 0.]]).reshape(3, 1, 2)
    # |row1 - row0| = (1, 2) -> 1.5 ; |row2 - row1| = (3, 0) -> 1.5 ; row 0 copies row 1
    np.testing.assert_allclose(token_motion_magnitude(patches).ravel(), [1.5, 1.5, 1.5])
    patches[2, 0] = [2., 4.]
    np.testing.assert_allclose(token_motion_magnitude(patches).ravel(), [1.5, 1.5, 2.0])


def test_temporal_avg_pool_by_hand():
    x = np.arange(6, dtype=np.float32).reshape(6, 1, 1)
    np.testing.assert_array_equal(temporal_avg_pool(x, 3).ravel(), [1., 4.])
    with pytest.raises(ValueError, match='not divisible by kernel 4'):
        temporal_avg_pool(x, 4)


def test_numpy_and_torch_forms_agree():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 120, 25, 3)).astype(np.float32)
    xt = torch.from_numpy(x)
    for fn in (lambda a: patchify(a, 4), frame_motion,
               lambda a: token_motion_magnitude(patchify(a, 4)),
               lambda a: temporal_avg_pool(patchify(a, 4), 5)):
        out_np, out_t = fn(x), fn(xt)
        assert isinstance(out_np, np.ndarray) and isinstance(out_t, torch.Tensor)
        np.testing.assert_allclose(out_np, out_t.numpy(), rtol=1e-6, atol=1e-6)
