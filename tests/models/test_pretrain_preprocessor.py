"""The batched pre-training path against its per-sample numpy reference, and its draws.

``SkeletonClipDataset`` + ``skeleton_clip_collate`` + ``SkeletonPretrainPreprocessor``
must produce, sample by sample, what ``CentreOnFirstFrame`` -> ``ValidCropResize`` ->
``RandomRotation3D`` -> ``FormatGCNInput`` -> masking produce when fed the same uniform
draws; and the draws must depend on (seed, epoch, sample index) only.
"""
import os
import pickle

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmaction.datasets.transforms import FormatGCNInput
from mmengine.dataset import DefaultSampler
from mmengine.logging import MessageHub
from torch.utils.data import DataLoader

from gfp_mmaction.datasets import (
    SkeletonClipDataset,
    per_sample_config,
    per_sample_pipeline,
    skeleton_clip_collate,
)
from gfp_mmaction.datasets.transforms import (
    CentreOnFirstFrame,
    MotionAwareTokenMasking,
    RandomRotation3D,
    RandomTokenMasking,
    ValidCropResize,
)
from gfp_mmaction.models.data_preprocessors import SkeletonPretrainPreprocessor, augmentation_draws
from gfp_mmaction.utils import counter_rng


def clip_data(tmp_path, clips):
    """An annotation file of ``clips`` ((M, T, V, 3) arrays), all in split 'train'."""
    annotations = [dict(frame_dir=f'c{i}', label=0, total_frames=k.shape[1],
                        keypoint=k.astype(np.float32)) for i, k in enumerate(clips)]
    path = tmp_path / 'clips.pkl'
    path.write_bytes(pickle.dumps(dict(split=dict(train=[a['frame_dir'] for a in annotations]),
                                       annotations=annotations)))
    return SkeletonClipDataset(str(path), split='train')


def reference(dataset, index, draws, b, pre):
    """The per-sample numpy path on sample ``index`` with the batch's draws of row ``b``."""
    results = dict(keypoint=dataset.clip(index).copy(),
                   total_frames=int(dataset.valid_frames[index]))
    results = CentreOnFirstFrame(pre.centre_joint)(results)
    crop = ValidCropResize(pre.clip_len, pre.p_interval, pre.min_frames)
    valid = min(crop.valid_frames(results['keypoint']), results['total_frames'])
    start, stop = crop.crop_range(valid, tuple(draws['crop'][b].numpy()))
    from gfp_mmaction.datasets.transforms.preprocess import resize_time_linear
    keypoint = resize_time_linear(results['keypoint'][:, start:stop], pre.clip_len, axis=1)
    rotation = RandomRotation3D(pre.max_angle)
    matrix = rotation.rotation_matrix(rotation.angles(draws['angles'][b].numpy()))
    keypoint = keypoint @ matrix.astype(np.float32).T
    keypoint = FormatGCNInput(num_person=2, mode=pre.person_pad)(
        dict(keypoint=keypoint))['keypoint']  # (1, M, T, V, C)
    masking = MotionAwareTokenMasking(pre.mask_ratio, pre.tau, pre.patch_len) \
        if pre.masking == 'motion_aware' else RandomTokenMasking(pre.mask_ratio, pre.patch_len)
    u = draws['tokens'][b].numpy()[None].astype(np.float64)
    mask = masking.mask_from_scores(masking.scores(keypoint, u))[0]  # (M, L)
    return keypoint[0], [np.flatnonzero(~m) for m in mask]


@pytest.fixture(autouse=True)
def epoch_zero():
    """A message hub of its own, at epoch 0: an earlier runner in this process would
    otherwise leave its epoch in the current one, which the preprocessor reads."""
    hub = MessageHub.get_instance(f'test_pretrain_preprocessor_{os.urandom(4).hex()}')
    hub.update_info('epoch', 0)
    assert MessageHub.get_current_instance() is hub
    yield hub


@pytest.fixture(scope='module')
def synthetic(synthetic_ann_file):
    return SkeletonClipDataset(str(synthetic_ann_file), split='xsub_train')


@pytest.mark.parametrize('person_pad,masking', [('zero', 'motion_aware'), ('loop', 'random')])
def test_batched_path_equals_the_numpy_reference_sample_by_sample(synthetic, person_pad,
                                                                  masking):
    pre = SkeletonPretrainPreprocessor(clip_len=48, min_frames=16, person_pad=person_pad,
                                       masking=masking, seed=11)
    index = list(range(len(synthetic)))[::-1]  # batch position != dataset index
    out = pre(skeleton_clip_collate(synthetic.__getitems__(index)), True)
    joints, visible = out['inputs'][:, 0], out['data_samples']['visible_index']
    assert joints.shape == (len(index), 2, 48, 25, 3)
    draws = augmentation_draws(11, 0, torch.tensor(index), 2, 12 * 25)
    two_person = 0
    for b, i in enumerate(index):
        keypoint, ref_visible = reference(synthetic, i, draws, b, pre)
        # centring, crop, resize and the 3 x 3 rotation: identical operations
        torch.testing.assert_close(joints[b], torch.from_numpy(keypoint), rtol=0, atol=1e-6)
        for m in range(2):
            assert np.array_equal(visible[2 * b + m].numpy(), ref_visible[m]), (i, m)
        two_person += synthetic.shapes[i, 0] == 2
    assert 0 < two_person < len(index)  # both kinds of clip were compared


def test_centring_origin_and_absent_bodies_on_hand_made_clips(tmp_path):
    """Persons absent in the first frames and a gap: the origin is person 0's first present
    frame's joint 1 and absent person-frames stay zero. (A person empty throughout is
    refused at load, so person 0 always gives the origin in a validated file.)"""
    rng = np.random.default_rng(0)
    late = rng.normal(size=(2, 70, 25, 3))
    late[0, :5] = 0   # person 0 appears at frame 5
    late[1, 30:40] = 0  # person 1 leaves for 10 frames
    single = rng.normal(size=(1, 66, 25, 3))
    single[0, :3] = 0
    dataset = clip_data(tmp_path, [late, single])
    assert dataset.first_person.tolist() == [0, 0] and dataset.first_frame.tolist() == [5, 3]
    pre = SkeletonPretrainPreprocessor(clip_len=64, p_interval=(1.0, 1.0), max_angle=0.0,
                                       min_frames=64, seed=0)
    out = pre(skeleton_clip_collate(dataset.__getitems__([0, 1])), True)['inputs'][:, 0]
    # p = 1 and no rotation: the whole valid clip (70 / 66 frames) resized to 64.
    draws = augmentation_draws(0, 0, torch.tensor([0, 1]), 2, 16 * 25)
    for b in range(2):
        keypoint, _ = reference(dataset, b, draws, b, pre)
        torch.testing.assert_close(out[b], torch.from_numpy(keypoint), rtol=0, atol=1e-6)
    # by hand: the first output frame of clip 0 reads source frame 0 (absent) and 1 ...
    np.testing.assert_array_equal(out[0, 0, 0].numpy(), 0)
    # ... and clip 0's person 0 at a frame fully inside its presence is x - origin
    src = (10 + 0.5) * 70 / 64 - 0.5  # output frame 10
    i0, lam = int(np.floor(src)), src - np.floor(src)
    origin = late[0, 5, 1]
    expected = (late[0, i0] - origin) * (1 - lam) + (late[0, i0 + 1] - origin) * lam
    np.testing.assert_allclose(out[0, 0, 10].numpy(), expected, atol=1e-5)
    assert not out[1, 1].any()  # the padded person stays zero


def test_visible_tokens_per_person_and_motion_preference(tmp_path, epoch_zero):
    """75 of 750 tokens visible per person; moving joints masked more often; a zero-padded
    person masked uniformly."""
    frames = 120
    t = np.arange(frames)[:, None]
    clip = np.zeros((1, frames, 25, 3))
    clip[0, :, :, 0] = 0.1 * np.arange(25)  # a still skeleton ...
    clip[0, :, 20:25, 1] = np.sin(t / 3.0)  # ... whose joints 20-24 swing
    dataset = clip_data(tmp_path, [clip])
    pre = SkeletonPretrainPreprocessor(p_interval=(1.0, 1.0), max_angle=0.0, tau=0.8, seed=3)
    counts = np.zeros((2, 30, 25))
    hub = epoch_zero
    epochs = 200
    try:
        for epoch in range(epochs):  # new draws every epoch
            hub.update_info('epoch', epoch)
            visible = pre(skeleton_clip_collate(dataset.__getitems__([0])), True)[
                'data_samples']['visible_index']
            assert visible.shape == (2, 75)
            for m in range(2):
                assert len(set(visible[m].tolist())) == 75
                assert torch.equal(visible[m], visible[m].sort().values)
                np.add.at(counts[m].reshape(-1), visible[m].numpy(), 1)
    finally:
        hub.update_info('epoch', 0)
    rate = counts / epochs
    still, moving = rate[0][:, :20].mean(), rate[0][:, 20:].mean()
    assert still > 1.5 * moving, (still, moving)  # high-motion tokens are masked more often
    # The padded person: p uniform, every token visible with probability 0.1 (200 draws:
    # std 0.021 per token); no column or row deviates systematically.
    assert abs(rate[1].mean() - 0.1) < 1e-9
    assert np.abs(rate[1].mean(axis=0) - 0.1).max() < 0.03
    assert np.abs(rate[1].mean(axis=1) - 0.1).max() < 0.04


def test_counter_rng_by_hand_and_numpy_equals_torch():
    # lowbias32 of 1, computed by hand in Python integers
    x = 1
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    assert int(counter_rng._mix32(np.int64(1))) == x
    assert int(counter_rng._mix32(torch.tensor(1))) == x
    keys_np = counter_rng.sample_keys(5, 2, np.arange(64, dtype=np.int64))
    keys_t = counter_rng.sample_keys(5, 2, torch.arange(64))
    assert np.array_equal(keys_np, keys_t.numpy())
    u_np = counter_rng.uniform(keys_np, np.arange(100, dtype=np.int64))
    u_t = counter_rng.uniform(keys_t, torch.arange(100))
    assert np.array_equal(u_np, u_t.numpy())
    assert 0 <= u_np.min() and u_np.max() < 1 and abs(u_np.mean() - 0.5) < 0.01
    # another epoch, seed or index gives other draws
    assert not np.array_equal(counter_rng.sample_keys(5, 3, np.arange(64)), keys_np)
    assert not np.array_equal(counter_rng.sample_keys(6, 2, np.arange(64)), keys_np)


def loader_outputs(dataset, num_workers, pre, batch_size=8, world_size=1, rank=0):
    """{sample index: (joints, visible)} of one epoch through a DataLoader."""
    sampler = DefaultSampler(dataset, shuffle=True, seed=1)
    sampler.rank, sampler.world_size = rank, world_size
    sampler.num_samples = len(range(rank, len(dataset), world_size))
    sampler.total_size = len(dataset)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                        num_workers=num_workers, collate_fn=skeleton_clip_collate)
    outputs = {}
    for batch in loader:
        out = pre(batch, True)
        for b, i in enumerate(batch['inputs']['index'].tolist()):
            outputs[i] = (out['inputs'][b], out['data_samples']['visible_index'][2 * b:2 * b + 2])
    return outputs


def assert_same_outputs(a, b):
    assert a.keys() == b.keys()
    for i in a:
        assert torch.equal(a[i][0], b[i][0]) and torch.equal(a[i][1], b[i][1]), i


def test_augmentation_is_identical_for_0_1_and_2_workers(synthetic):
    pre = SkeletonPretrainPreprocessor(clip_len=48, min_frames=16, seed=5)
    runs = [loader_outputs(synthetic, workers, pre) for workers in (0, 1, 2)]
    assert len(runs[0]) == len(synthetic)
    assert_same_outputs(runs[0], runs[1])
    assert_same_outputs(runs[0], runs[2])


def _rank_outputs(rank, world_size, ann_file, init_file, out_dir):
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world_size)
    try:
        dataset = SkeletonClipDataset(ann_file, split='xsub_train')
        pre = SkeletonPretrainPreprocessor(clip_len=48, min_frames=16, seed=5)
        # 4 per rank: the ranks' batches hold other samples than the single process's
        outputs = loader_outputs(dataset, 0, pre, batch_size=4, world_size=world_size,
                                 rank=rank)
        torch.save(outputs, os.path.join(out_dir, f'rank{rank}.pth'))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_augmentation_is_identical_for_1_and_2_gloo_ranks(synthetic, synthetic_ann_file,
                                                          tmp_path):
    pre = SkeletonPretrainPreprocessor(clip_len=48, min_frames=16, seed=5)
    single = loader_outputs(synthetic, 0, pre)
    mp.start_processes(_rank_outputs, args=(2, str(synthetic_ann_file),
                                            str(tmp_path / 'init'), str(tmp_path)),
                       nprocs=2, start_method='spawn')
    ranks = [torch.load(tmp_path / f'rank{r}.pth', weights_only=False) for r in range(2)]
    assert not set(ranks[0]) & set(ranks[1])
    assert_same_outputs(single, {**ranks[0], **ranks[1]})


def test_device_resident_store_serves_the_same_batches(synthetic_ann_file):
    host = SkeletonClipDataset(str(synthetic_ann_file), split='xsub_train')
    resident = SkeletonClipDataset(str(synthetic_ann_file), split='xsub_train', device='cpu')
    rows = int((host.shapes[:, 0] * host.shapes[:, 1]).sum())  # every person-frame once
    assert resident.store.shape == (rows, 25, 3) and host.rows.shape == (rows, 25, 3)
    assert resident.store_bytes == rows * 25 * 3 * 4 + rows == host.store_bytes
    index = [3, 0, 7, 7]
    a, b = host.__getitems__(index), resident.__getitems__(index)
    assert a.keys() == b.keys()
    # the host batch holds the 4 clips' rows; the resident one the whole store + offsets
    assert len(a['keypoint']) == int((host.shapes[index, 0] * host.shapes[index, 1]).sum())
    assert torch.equal(b['keypoint'], resident.store)
    for key in ('num_frames', 'num_persons', 'valid_frames', 'first_person', 'first_frame',
                'index'):
        assert torch.equal(a[key], b[key]), key
    pre = SkeletonPretrainPreprocessor(clip_len=48, min_frames=16, seed=2)
    out_a, out_b = pre(skeleton_clip_collate(a), True), pre(skeleton_clip_collate(b), True)
    assert torch.equal(out_a['inputs'], out_b['inputs'])
    assert torch.equal(out_a['data_samples']['visible_index'],
                       out_b['data_samples']['visible_index'])
    # batches of one, concatenated by the collate, are the batch
    single = skeleton_clip_collate([host[i] for i in index])['inputs']
    for key in a:
        assert torch.equal(single[key], a[key]), key
    with pytest.raises(RuntimeError, match='num_workers=0'):
        next(iter(DataLoader(resident, batch_size=2, num_workers=1,
                             collate_fn=skeleton_clip_collate)))


def test_clear_errors(synthetic_ann_file, synthetic):
    with pytest.raises(ValueError, match='pipeline must be empty'):
        SkeletonClipDataset(str(synthetic_ann_file), pipeline=[dict(type='CentreOnFirstFrame')])
    pre = SkeletonPretrainPreprocessor()
    with pytest.raises(TypeError, match="collate_fn=dict\\(type='skeleton_clip_collate'\\)"):
        pre(dict(inputs=[torch.zeros(2, 120, 25, 3)], data_samples=None), True)
    with pytest.raises(ValueError, match="person_pad must be 'zero' or 'loop'"):
        SkeletonPretrainPreprocessor(person_pad='repeat')
    with pytest.raises(ValueError, match='multiple of patch_len'):
        SkeletonPretrainPreprocessor(clip_len=50)


def test_per_sample_config_is_the_reference_pipeline():
    from mmengine.config import Config
    cfg = Config.fromfile('configs/gfp/gfp_ntu120_xsub.py')
    ref = per_sample_config(cfg)
    assert ref.train_dataloader.dataset.type == 'SkeletonPoseDataset'
    assert ref.train_dataloader.collate_fn.type == 'pseudo_collate'
    assert ref.data_preprocessor.type == 'ActionDataPreprocessor'
    pipeline = ref.train_dataloader.dataset.pipeline
    assert pipeline == per_sample_pipeline(cfg.data_preprocessor)
    assert [t['type'] for t in pipeline] == [
        'CentreOnFirstFrame', 'ValidCropResize', 'RandomRotation3D', 'FormatGCNInput',
        'MotionAwareTokenMasking', 'PackActionInputs']
    assert pipeline[3]['mode'] == 'loop' and pipeline[4]['tau'] == 0.75  # NTU-120
    assert cfg.train_dataloader.dataset.type == 'SkeletonClipDataset'  # not modified


def test_per_sample_config_keeps_mamps_visible_count():
    from mmengine.config import Config
    cfg = Config.fromfile('configs/mamp/mamp_published_ntu60_xsub.py')
    masking = per_sample_config(cfg).train_dataloader.dataset.pipeline[4]
    assert masking['visible_rounding'] == 'floor'
    from mmaction.registry import TRANSFORMS
    assert TRANSFORMS.build(masking).num_visible(750) == 74
