"""Tests of the MAMP preprocessing transforms: centring, crop + resize, rotation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import TRANSFORMS

from gfp_mmaction.datasets.transforms import (
    CentreOnFirstFrame,
    RandomRotation3D,
    ValidCropResize,
    resize_time_linear,
)


# --------------------------------------------------------------------------- centring
def _two_person_clip():
    """(M=2, T=4, V=3, C=3): person 0 starts in frame 1 and is gone in frame 3,
    person 1 is missing in frames 0-1."""
    kp = np.zeros((2, 4, 3, 3), np.float32)
    kp[0, 1] = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]  # origin: joint 1 here = (4, 5, 6)
    kp[0, 2] = [[2, 2, 2], [4, 5, 6], [0, 0, 0]]  # one zero joint in a present frame
    kp[1, 2] = [[10, 10, 10], [4, 5, 6], [1, 1, 1]]
    kp[1, 3] = [[5, 5, 5], [5, 5, 5], [5, 5, 5]]
    return kp


def test_centre_on_first_frame_by_hand():
    kp = _two_person_clip()
    before = kp.copy()
    out = CentreOnFirstFrame(joint=1)(dict(keypoint=kp, frame_dir='S001'))['keypoint']
    expected = np.zeros((2, 4, 3, 3), np.float32)
    expected[0, 1] = [[-3, -3, -3], [0, 0, 0], [3, 3, 3]]
    # A zero joint inside a present frame is shifted like any other (SGN rule).
    expected[0, 2] = [[-2, -3, -4], [0, 0, 0], [-4, -5, -6]]
    expected[1, 2] = [[6, 5, 4], [0, 0, 0], [-3, -4, -5]]
    expected[1, 3] = [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(kp, before)  # the input array is not modified


def test_centre_other_joint_and_empty_first_person():
    kp = _two_person_clip()
    out = CentreOnFirstFrame(joint=0)(dict(keypoint=kp))['keypoint']
    np.testing.assert_array_equal(out[0, 1, 0], [0, 0, 0])
    np.testing.assert_array_equal(out[1, 3, 0], [4, 3, 2])  # (5,5,5) - (1,2,3)
    # Person 0 empty throughout: the first non-empty person gives the origin.
    only_second = np.stack([np.zeros_like(kp[0]), kp[1]])
    out = CentreOnFirstFrame()(dict(keypoint=only_second))['keypoint']
    np.testing.assert_array_equal(out[0], 0)
    np.testing.assert_array_equal(out[1, :2], 0)
    np.testing.assert_array_equal(out[1, 2], [[6, 5, 4], [0, 0, 0], [-3, -4, -5]])


def test_centre_errors():
    with pytest.raises(ValueError, match='S042.*all zeros'):
        CentreOnFirstFrame()(dict(keypoint=np.zeros((2, 5, 25, 3), np.float32), frame_dir='S042'))
    with pytest.raises(ValueError, match='S042.*keypoint.*4 dims'):
        CentreOnFirstFrame()(dict(keypoint=np.ones((5, 25, 3), np.float32), frame_dir='S042'))
    with pytest.raises(ValueError, match='out of range'):
        CentreOnFirstFrame(joint=30)(dict(keypoint=np.ones((1, 5, 25, 3), np.float32)))
    with pytest.raises(ValueError, match='joint'):
        CentreOnFirstFrame(joint=-1)
    assert repr(CentreOnFirstFrame(joint=1)) == 'CentreOnFirstFrame(joint=1)'


# ------------------------------------------------------------------ crop and resize
def _ramp_clip(total=150, valid=100, persons=2, joints=25):
    """Frame t holds the value t + 1 (non-zero) for t < valid, zeros after."""
    kp = np.zeros((persons, total, joints, 3), np.float32)
    kp[:, :valid] = (np.arange(valid, dtype=np.float32) + 1)[None, :, None, None]
    return kp


def test_centre_crop_indices_by_hand():
    kp = _ramp_clip(total=150, valid=100)
    kp[:, 50] = 0  # a zero frame inside the clip does not shorten it
    # valid = 100 (trailing zeros excluded), p = 0.95: bias = int(2.5) = 2 -> [2, 98).
    # clip_len = 96 = crop length, so the resize is the identity.
    res = ValidCropResize(clip_len=96, p_interval=(0.95, ))(dict(keypoint=kp, total_frames=150))
    np.testing.assert_array_equal(res['keypoint'], kp[:, 2:98])
    assert res['total_frames'] == 96 and res['keypoint'].dtype == np.float32
    # total_frames bounds valid: valid = 80 -> bias = int(2.0) = 2 -> [2, 78).
    res = ValidCropResize(clip_len=76, p_interval=0.95)(dict(keypoint=kp, total_frames=80))
    np.testing.assert_array_equal(res['keypoint'], kp[:, 2:78])
    # p = 0.5, valid = 100: bias = 25 -> [25, 75).
    res = ValidCropResize(clip_len=50, p_interval=(0.5, ))(dict(keypoint=kp))
    np.testing.assert_array_equal(res['keypoint'], kp[:, 25:75])


def test_valid_frames():
    kp = _ramp_clip(total=300, valid=57)
    assert ValidCropResize.valid_frames(kp) == 57
    kp[1, 120, 3, 2] = 0.5  # one joint of the second person extends the clip
    assert ValidCropResize.valid_frames(kp) == 121
    assert ValidCropResize.valid_frames(np.zeros((2, 10, 25, 3))) == 0


def test_random_crop_lengths_by_hand():
    # p_interval=(0.5, 0.5) fixes p, so the length is known; the start is random.
    crop = ValidCropResize(clip_len=120, p_interval=(0.5, 0.5), min_frames=64)
    np.random.seed(0)
    for valid, length in [(300, 150), (100, 64), (40, 40), (64, 64), (129, 64), (130, 65)]:
        for _ in range(20):
            start, stop = crop.crop_range(valid)
            assert stop - start == length and 0 <= start and stop <= valid


def test_random_crop_bounds_and_spread():
    crop = ValidCropResize(clip_len=120, p_interval=(0.5, 1.0), min_frames=64)
    np.random.seed(1)
    for valid in (20, 64, 100, 300):
        lengths, starts = [], []
        for _ in range(300):
            start, stop = crop.crop_range(valid)
            assert 0 <= start < stop <= valid
            assert stop - start >= min(64, valid)
            lengths.append(stop - start)
            starts.append(start)
        if valid == 300:  # floor(300 p), p ~ U(0.5, 1): covers [150, 300]
            assert min(lengths) < 160 and max(lengths) > 290 and min(lengths) >= 150
            assert max(starts) > 100
    # The whole transform: output frames are interpolated inside the crop.
    kp = _ramp_clip(total=300, valid=200)
    for _ in range(20):
        out = crop(dict(keypoint=kp.copy(), total_frames=300))['keypoint']
        assert out.shape == (2, 120, 25, 3)
        ramp = out[0, :, 0, 0]
        assert np.all(np.diff(ramp) >= 0) and ramp[0] >= 1 and ramp[-1] <= 200
        assert ramp[-1] - ramp[0] >= 0.5 * 200 * (119 / 120) - 2


def _torch_resize(kp: np.ndarray, length: int) -> np.ndarray:
    """MAMP's route: (C, T, V, M) -> (1, 1, C*V*M, T) -> bilinear -> back."""
    data = torch.from_numpy(kp).permute(3, 1, 2, 0)  # (C, T, V, M)
    C, T, V, M = data.shape
    data = data.permute(0, 2, 3, 1).contiguous().view(C * V * M, T)[None, None]
    data = F.interpolate(data, size=(C * V * M, length), mode='bilinear', align_corners=False)
    data = data[0, 0].view(C, V, M, length).permute(0, 3, 1, 2)  # (C, T', V, M)
    return data.permute(3, 1, 2, 0).numpy()  # (M, T', V, C)


@pytest.mark.parametrize('l_in', [1, 2, 37, 64, 119, 120, 121, 300])
def test_resize_matches_torch_bilinear(l_in):
    rng = np.random.default_rng(l_in)
    kp = rng.normal(size=(2, l_in, 25, 3)).astype(np.float32)
    ours = resize_time_linear(kp, 120, axis=1)
    assert ours.shape == (2, 120, 25, 3) and ours.dtype == np.float32
    # Same formula: torch in float64 agrees to float32 rounding of the output.
    np.testing.assert_allclose(ours, _torch_resize(kp.astype(np.float64), 120), atol=1e-6)
    # torch in float32 (MAMP's dtype) computes source positions in float32, which
    # moves the blend weights by ~1e-6 * L_in; the outputs still agree closely.
    np.testing.assert_allclose(ours, _torch_resize(kp, 120), atol=1e-4)


def test_resize_by_hand():
    # L_in = 2 -> L_out = 4: src = (i + 0.5) / 2 - 0.5 = -0.25 (clamped 0), 0.25, 0.75, 1.25
    # -> blends 0, 0.25, 0.75 and the clamped last frame.
    x = np.array([0.0, 4.0], np.float32)
    np.testing.assert_allclose(resize_time_linear(x, 4, axis=0), [0, 1, 3, 4])
    # L_in = 4 -> L_out = 2: src = 0.5, 2.5.
    np.testing.assert_allclose(resize_time_linear(np.arange(4.0), 2, axis=0), [0.5, 2.5])


def test_test_mode_matches_mamp_valid_crop_resize():
    """Whole transform vs MAMP's valid_crop_resize (torch) on a padded random clip."""
    rng = np.random.default_rng(5)
    kp = np.zeros((2, 300, 25, 3), np.float32)
    kp[:, :173] = rng.normal(size=(2, 173, 25, 3))
    out = ValidCropResize(clip_len=120, p_interval=(0.95, ))(dict(keypoint=kp))['keypoint']
    bias = int((1 - 0.95) * 173 / 2)  # 4
    np.testing.assert_allclose(out, _torch_resize(kp[:, bias:173 - bias], 120), atol=1e-4)


def test_crop_resize_errors_and_repr():
    with pytest.raises(ValueError, match='clip_len'):
        ValidCropResize(clip_len=0)
    with pytest.raises(ValueError, match='p_interval'):
        ValidCropResize(p_interval=(0.0, 1.0))
    with pytest.raises(ValueError, match='p_interval'):
        ValidCropResize(p_interval=(0.5, 1.2))
    with pytest.raises(ValueError, match='p_interval'):
        ValidCropResize(p_interval=(0.9, 0.5))
    with pytest.raises(ValueError, match='p_interval'):
        ValidCropResize(p_interval=(0.5, 0.7, 0.9))
    with pytest.raises(ValueError, match='min_frames'):
        ValidCropResize(min_frames=0)
    with pytest.raises(ValueError, match='S007.*no valid frame'):
        ValidCropResize()(dict(keypoint=np.zeros((2, 30, 25, 3), np.float32), frame_dir='S007'))
    assert repr(ValidCropResize(120, (0.5, 1.0), 64)) == \
        'ValidCropResize(clip_len=120, p_interval=(0.5, 1.0), min_frames=64)'


# ------------------------------------------------------------------------- rotation
def test_rotation_matrices_by_hand():
    h = np.pi / 2
    rot = RandomRotation3D.rotation_matrix
    np.testing.assert_allclose(rot((h, 0, 0)), [[1, 0, 0], [0, 0, 1], [0, -1, 0]], atol=1e-12)
    np.testing.assert_allclose(rot((0, h, 0)), [[0, 0, -1], [0, 1, 0], [1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(rot((0, 0, h)), [[0, 1, 0], [-1, 0, 0], [0, 0, 1]], atol=1e-12)
    # Rz @ Ry @ Rx (Rx @ Ry @ Rz would give [[0,0,-1],[0,1,0],[1,0,0]]).
    np.testing.assert_allclose(rot((h, h, h)), [[0, 0, 1], [0, -1, 0], [1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(rot((0, 0, 0)), np.eye(3), atol=1e-12)
    a = 0.3  # one small angle: c, s by hand in the Rx pattern
    np.testing.assert_allclose(rot((a, 0, 0)), [[1, 0, 0], [0, np.cos(a), np.sin(a)],
                                                [0, -np.sin(a), np.cos(a)]], atol=1e-12)


def test_random_rotation_applies_r_at_x():
    rng = np.random.default_rng(0)
    kp = rng.normal(size=(2, 10, 25, 3)).astype(np.float32)
    kp[1, 5:] = 0  # absent person in the last frames
    np.random.seed(123)
    out = RandomRotation3D(max_angle=0.3)(dict(keypoint=kp.copy()))['keypoint']
    np.random.seed(123)
    angles = np.random.uniform(-0.3, 0.3, size=3)
    assert np.all(np.abs(angles) <= 0.3) and np.any(angles != 0)
    expected = np.einsum('ij,mtvj->mtvi', RandomRotation3D.rotation_matrix(angles), kp)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[1, 5:], 0)  # zeros stay zero
    # Distances to the origin are preserved; the clip did move.
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(kp, axis=-1), rtol=1e-5)
    assert np.abs(out - kp).max() > 1e-2


def test_random_rotation_per_sample_and_zero_angle():
    kp = np.ones((1, 4, 25, 3), np.float32)
    rot = RandomRotation3D(0.3)
    np.random.seed(0)
    first = rot(dict(keypoint=kp))['keypoint']
    second = rot(dict(keypoint=kp))['keypoint']
    assert np.abs(first - second).max() > 1e-3  # a new rotation per sample
    np.testing.assert_array_equal(RandomRotation3D(0)(dict(keypoint=kp))['keypoint'], kp)
    with pytest.raises(ValueError, match='max_angle'):
        RandomRotation3D(-0.1)
    with pytest.raises(ValueError, match='S009.*3D'):
        rot(dict(keypoint=np.ones((1, 4, 25, 2), np.float32), frame_dir='S009'))
    assert repr(rot) == 'RandomRotation3D(max_angle=0.3)'


def test_registered():
    for name in ('CentreOnFirstFrame', 'ValidCropResize', 'RandomRotation3D'):
        assert TRANSFORMS.get(name) is not None
    built = TRANSFORMS.build(dict(type='ValidCropResize', clip_len=120, p_interval=(0.95, )))
    assert isinstance(built, ValidCropResize) and built.p_interval == (0.95, )


def test_crop_resize_keypoint_score_follows_keypoint():
    kp = _ramp_clip(total=150, valid=100)
    score = kp[..., 0] / 100  # (M, T, V), same ramp
    res = ValidCropResize(clip_len=96, p_interval=(0.95, ))(dict(keypoint=kp, keypoint_score=score))
    np.testing.assert_array_equal(res['keypoint_score'], score[:, 2:98])
