"""Tests of the token-masking transforms and of the whole pre-training pipeline."""
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import DATASETS, TRANSFORMS
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from gfp_mmaction.datasets.transforms import MotionAwareTokenMasking, RandomTokenMasking

RIGHT_ARM = [9, 10, 11, 23, 24]
STATIC = [v for v in range(25) if v not in RIGHT_ARM]


def _arm_clip(persons=2):
    """(1, M, 120, 25, 3): a still body whose right arm circles; person 1 is padding."""
    rng = np.random.default_rng(0)
    kp = np.zeros((1, persons, 120, 25, 3), np.float32)
    kp[0, 0] = rng.normal(size=(1, 25, 3))
    phase = np.arange(120) / 120 * 4 * np.pi
    kp[0, 0, :, RIGHT_ARM, 0] += 0.3 * np.sin(phase)[None]
    kp[0, 0, :, RIGHT_ARM, 1] += 0.3 * np.cos(phase)[None]
    return kp


def _mask_frequency(transform, kp, draws=200):
    """Per-token masked frequency over ``draws`` masks, ``(..., T_e, V)``."""
    masks = np.stack([transform(dict(keypoint=kp))['token_mask'] for _ in range(draws)])
    assert np.all((~masks).sum(-1) == 75)
    return masks.mean(0).reshape(*kp.shape[:-3], 30, 25)


@pytest.mark.parametrize('cls', [RandomTokenMasking, MotionAwareTokenMasking])
def test_exact_visible_count_and_shapes(cls):
    transform = cls(mask_ratio=0.9, patch_len=4)
    np.random.seed(0)
    kp = np.random.default_rng(1).normal(size=(1, 2, 120, 25, 3)).astype(np.float32)
    mask = transform(dict(keypoint=kp))['token_mask']
    assert mask.shape == (1, 2, 750) and mask.dtype == bool
    np.testing.assert_array_equal((~mask).sum(-1), [[75, 75]])  # round(75.0), not int(74.99)
    assert not np.array_equal(mask[0, 0], mask[0, 1])  # each person masked independently
    # Any leading dims; other ratios and patch lengths.
    assert transform(dict(keypoint=kp[0, 0]))['token_mask'].shape == (750, )
    mask = cls(mask_ratio=0.75, patch_len=2)(
        dict(keypoint=kp.reshape(2, 1, 120, 25, 3)))['token_mask']
    assert mask.shape == (2, 1, 1500) and np.all((~mask).sum(-1) == 375)


@pytest.mark.parametrize('cls', [RandomTokenMasking, MotionAwareTokenMasking])
def test_errors_and_repr(cls):
    for ratio in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match='mask_ratio'):
            cls(mask_ratio=ratio)
    with pytest.raises(ValueError, match='patch_len'):
        cls(patch_len=0)
    with pytest.raises(ValueError, match='S003.*122 frames.*patch_len=4'):
        cls()(dict(keypoint=np.ones((1, 2, 122, 25, 3), np.float32), frame_dir='S003'))
    with pytest.raises(ValueError, match='no visible token'):
        cls(mask_ratio=0.995)(dict(keypoint=np.ones((1, 1, 8, 25, 3), np.float32)))  # 50 tokens
    assert repr(cls()).startswith(f'{cls.__name__}(mask_ratio=0.9')
    assert TRANSFORMS.get(cls.__name__) is cls


def test_tau_validation_and_repr():
    with pytest.raises(ValueError, match='tau'):
        MotionAwareTokenMasking(tau=0)
    with pytest.raises(ValueError, match='S004.*fewer than 2 patches'):
        MotionAwareTokenMasking(0.5)(dict(keypoint=np.ones((1, 4, 25, 3)), frame_dir='S004'))
    assert repr(MotionAwareTokenMasking(0.9, 0.75, 4)) == \
        'MotionAwareTokenMasking(mask_ratio=0.9, tau=0.75, patch_len=4)'


def test_motion_aware_masks_moving_joints_more_often():
    kp = _arm_clip()
    np.random.seed(0)
    aware = _mask_frequency(MotionAwareTokenMasking(0.9, tau=0.8), kp)[0, 0]
    rand = _mask_frequency(RandomTokenMasking(0.9), kp)[0, 0]
    # 150 moving tokens vs 600 still ones; measured: about 0.998 vs 0.875.
    assert aware[:, RIGHT_ARM].mean() > 0.97
    assert aware[:, STATIC].mean() < 0.89
    assert abs(rand[:, RIGHT_ARM].mean() - 0.9) < 0.01
    assert abs(rand[:, STATIC].mean() - 0.9) < 0.01


def test_motion_aware_zero_person_is_uniform():
    kp = _arm_clip()
    np.random.seed(1)
    freq = _mask_frequency(MotionAwareTokenMasking(0.9, tau=0.8), kp)[0, 1].ravel()
    # Per-token masked counts out of 200 are Binomial(200, 0.9) under uniform masking:
    # sd = 0.021 in frequency; the max over 750 tokens stays below ~4 sd.
    assert np.abs(freq - 0.9).max() < 0.09
    counts = freq * 200
    chi2 = ((counts - 180) ** 2 / (200 * 0.9 * 0.1)).sum()
    assert abs(chi2 - 750) < 5 * np.sqrt(2 * 750)
    # Uniform p leaves only the Gumbel noise, a monotone function of u: with the same
    # draws, the mask is exactly plain random masking's.
    zero = np.zeros((1, 2, 120, 25, 3), np.float32)
    np.random.seed(7)
    aware = MotionAwareTokenMasking()(dict(keypoint=zero))['token_mask']
    np.random.seed(7)
    plain = RandomTokenMasking()(dict(keypoint=zero))['token_mask']
    np.testing.assert_array_equal(aware, plain)


def _mamp_scores_torch(x: torch.Tensor, u: torch.Tensor, patch_len: int, tau: float):
    """MAMP's random_masking scores, written from its formula.

    x: (N, T, V, C) raw joints; u: (N, L) uniform noise.
    """
    N, T, V, C = x.shape
    x = x.reshape(N, T // patch_len, patch_len, V, C).permute(0, 1, 3, 2, 4)
    x = x.reshape(N, T // patch_len, V, patch_len * C)
    motion = torch.zeros_like(x)
    motion[:, 1:] = torch.abs(x[:, 1:] - x[:, :-1])
    motion[:, 0] = motion[:, 1]
    motion = motion.mean(dim=3).reshape(N, -1)
    motion = motion / (torch.max(motion, dim=-1, keepdim=True).values * tau + 1e-10)
    prob = F.softmax(motion, dim=-1)
    return torch.log(prob) - torch.log(-torch.log(u + 1e-10) + 1e-10)


def test_motion_aware_scores_match_mamp_torch():
    rng = np.random.default_rng(3)
    kp = np.zeros((1, 2, 120, 25, 3), np.float32)
    kp[0, 0] = np.cumsum(rng.normal(scale=0.05, size=(120, 25, 3)), axis=0)  # random walk
    kp[0, 1, :60] = rng.normal(size=(60, 25, 3))  # second person leaves at frame 60
    transform = MotionAwareTokenMasking(0.9, tau=0.8, patch_len=4)
    np.random.seed(11)
    ours = transform.scores(kp)
    np.random.seed(11)
    u = np.random.rand(1, 2, 750)
    ref = _mamp_scores_torch(torch.from_numpy(kp[0]).double(), torch.from_numpy(u[0]), 4, 0.8)
    assert ours.shape == (1, 2, 750)
    np.testing.assert_allclose(ours[0], ref.numpy(), rtol=1e-9, atol=1e-9)
    # MAMP keeps argsort(noise)[:, :len_keep]; the transform's mask is the same set.
    np.random.seed(11)
    mask = transform(dict(keypoint=kp))['token_mask'][0]
    keep = torch.argsort(ref, dim=1)[:, :75]
    expected = torch.ones(2, 750, dtype=torch.bool).scatter(1, keep, False).numpy()
    np.testing.assert_array_equal(mask, expected)
    # The float32 route MAMP itself runs gives the same scores up to float32 precision.
    ref32 = _mamp_scores_torch(torch.from_numpy(kp[0]), torch.from_numpy(u[0]).float(), 4, 0.8)
    np.testing.assert_allclose(ours[0], ref32.numpy(), atol=1e-4)


def _pretrain_pipeline():
    return [
        dict(type='CentreOnFirstFrame', joint=1),
        dict(type='ValidCropResize', clip_len=120, p_interval=(0.5, 1.0), min_frames=64),
        dict(type='RandomRotation3D', max_angle=0.3),
        dict(type='FormatGCNInput', num_person=2, mode='zero'),
        dict(type='MotionAwareTokenMasking', mask_ratio=0.9, tau=0.8, patch_len=4),
        dict(type='PackActionInputs', algorithm_keys=('token_mask', )),
    ]


def _ntu_like_sample(frame_dir, persons, frames, total=150, seed=0):
    rng = np.random.default_rng(seed)
    kp = np.zeros((persons, total, 25, 3), np.float32)
    kp[:, :frames] = rng.normal(size=(persons, 1, 25, 3)) + np.cumsum(
        rng.normal(scale=0.02, size=(persons, frames, 25, 3)), axis=1)
    return dict(frame_dir=frame_dir, label=3, total_frames=total, keypoint=kp)


def test_pretrain_pipeline_compose():
    with DefaultScope.overwrite_default_scope('mmaction'):
        pipeline = Compose(_pretrain_pipeline())
    np.random.seed(0)
    for persons, frames in [(2, 90), (1, 150), (1, 40)]:
        sample = _ntu_like_sample('S001C001P001R001A001', persons, frames)
        packed = pipeline(sample)
        inputs, data_sample = packed['inputs'], packed['data_samples']
        assert tuple(inputs.shape) == (1, 2, 120, 25, 3) and inputs.dtype == torch.float32
        mask = data_sample.token_mask
        assert mask.shape == (1, 2, 750) and mask.dtype == bool
        np.testing.assert_array_equal((~mask).sum(-1), [[75, 75]])
        if persons == 1:  # NTU-60 zero padding for the absent second actor
            assert torch.all(inputs[0, 1] == 0)
        assert int(data_sample.gt_label) == 3


def test_pipelines_in_pose_dataset(tmp_path):
    """The real PoseDataset reading an NTU-format pickle, pre-training and test pipelines."""
    annotations = [_ntu_like_sample(f'S001C001P00{i}R001A001', 1 + i % 2, 70 + 30 * i, seed=i)
                   for i in range(3)]
    ann_file = tmp_path / 'ntu_tiny.pkl'
    with open(ann_file, 'wb') as f:
        pickle.dump(dict(split=dict(xsub_train=[a['frame_dir'] for a in annotations],
                                    xsub_val=[annotations[0]['frame_dir']]),
                         annotations=annotations), f)
    # The runner sets default_scope='mmaction'; the dataset's Compose needs it.
    with DefaultScope.overwrite_default_scope('mmaction'):
        train = DATASETS.build(dict(type='PoseDataset', ann_file=str(ann_file),
                                    split='xsub_train', pipeline=_pretrain_pipeline()))
        test = DATASETS.build(dict(
            type='PoseDataset', ann_file=str(ann_file), split='xsub_val', test_mode=True,
            pipeline=[dict(type='CentreOnFirstFrame', joint=1),
                      dict(type='ValidCropResize', clip_len=120, p_interval=(0.95, )),
                      dict(type='FormatGCNInput', num_person=2, mode='zero'),
                      dict(type='PackActionInputs')]))
    assert len(train) == 3 and len(test) == 1
    np.random.seed(5)
    first = [train[i] for i in range(3)]
    np.random.seed(5)
    again = [train[i] for i in range(3)]
    for a, b in zip(first, again):  # reproducible under numpy seeding
        assert tuple(a['inputs'].shape) == (1, 2, 120, 25, 3)
        assert torch.equal(a['inputs'], b['inputs'])
        np.testing.assert_array_equal(a['data_samples'].token_mask, b['data_samples'].token_mask)
    assert not torch.equal(train[0]['inputs'], first[0]['inputs'])  # fresh draws otherwise
    # Test mode: deterministic, centred on joint 1 of the first frame, no mask.
    out = test[0]
    assert tuple(out['inputs'].shape) == (1, 2, 120, 25, 3)
    assert 'token_mask' not in out['data_samples']
    # valid = 70, bias = int(1.75) = 1: crop [1, 69) resized to 120; frame 0 of the
    # output is source frame 1 exactly (src position clamped at 0).
    kp = annotations[0]['keypoint']
    np.testing.assert_allclose(out['inputs'][0, 0, 0].numpy(), kp[0, 1] - kp[0, 0, 1], atol=1e-6)
    assert torch.equal(out['inputs'], test[0]['inputs'])
