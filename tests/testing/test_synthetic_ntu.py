"""The synthetic NTU generator: format, splits, determinism, physical plausibility,
loading through MMAction2's PoseDataset, and that the classes are learnable."""
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from mmaction.datasets import PoseDataset
from mmengine.registry import DefaultScope

from gfp_mmaction.testing.synthetic import (
    NTU_PARENTS,
    SYNTHETIC_NTU_CLASSES,
    generate_synthetic_ntu,
    write_synthetic_ntu,
)

NAME = re.compile(r'^S001C(\d{3})P(\d{3})R(\d{3})A(\d{3})$')
TWO_PERSON = {'handshake', 'walk towards each other', 'walk apart', 'push other person', 'hug'}
SMALL = dict(num_classes=10, subjects=2, views=2, reps=1)


@pytest.fixture(scope='module')
def default_data():
    return generate_synthetic_ntu()


def _by_name(data):
    return {a['frame_dir']: a for a in data['annotations']}


def test_default_size_and_annotation_format(default_data):
    annos = default_data['annotations']
    assert len(annos) == 10 * 8 * 3 * 2
    assert len({a['frame_dir'] for a in annos}) == len(annos)
    assert {a['label'] for a in annos} == set(range(10))
    assert len(SYNTHETIC_NTU_CLASSES) >= 10
    for a in annos:
        assert set(a) == {'frame_dir', 'label', 'total_frames', 'keypoint'}
        kp = a['keypoint']
        assert kp.dtype == np.float32 and kp.ndim == 4 and kp.shape[2:] == (25, 3)
        assert type(a['label']) is int and type(a['total_frames']) is int
        assert kp.shape[1] == a['total_frames'] and 40 <= a['total_frames'] <= 300
        assert np.isfinite(kp).all()
        _, _, _, action = NAME.match(a['frame_dir']).groups()
        assert int(action) == a['label'] + 1
        two = SYNTHETIC_NTU_CLASSES[a['label']] in TWO_PERSON
        assert kp.shape[0] == (2 if two else 1), a['frame_dir']
    assert sum(a["keypoint"].shape[0] == 2 for a in annos) == 3 * 8 * 3 * 2
    frames = [a['total_frames'] for a in annos]
    assert max(frames) - min(frames) > 100  # lengths really vary


def test_splits_follow_subjects_and_cameras(default_data):
    split, names = default_data['split'], set(_by_name(default_data))
    for a, b in (('xsub_train', 'xsub_val'), ('xview_train', 'xview_val')):
        assert not set(split[a]) & set(split[b])
        assert set(split[a]) | set(split[b]) == names
        assert len(split[a]) + len(split[b]) == len(names)  # no duplicates
    parse = lambda n: [int(g) for g in NAME.match(n).groups()]  # noqa: E731
    train_subj = {parse(n)[1] for n in split['xsub_train']}
    val_subj = {parse(n)[1] for n in split['xsub_val']}
    assert train_subj == {1, 3, 5, 7} and val_subj == {2, 4, 6, 8}
    assert {parse(n)[0] for n in split['xview_val']} == {1}
    assert {parse(n)[0] for n in split['xview_train']} == {2, 3}


def test_same_seed_same_data_other_seed_other_data():
    a, b = generate_synthetic_ntu(seed=3, **SMALL), generate_synthetic_ntu(seed=3, **SMALL)
    c = generate_synthetic_ntu(seed=4, **SMALL)
    assert a['split'] == b['split'] == c['split']
    for x, y in zip(a['annotations'], b['annotations']):
        assert x['frame_dir'] == y['frame_dir'] and x['label'] == y['label']
        np.testing.assert_array_equal(x['keypoint'], y['keypoint'])
    differ = [x['keypoint'].shape != z['keypoint'].shape
              or not np.array_equal(x['keypoint'], z['keypoint'])
              for x, z in zip(a['annotations'], c['annotations'])]
    assert all(differ)


def test_skeletons_are_rigid_human_sized_and_on_the_floor(default_data):
    """Forward kinematics keeps every bone's length fixed within a clip (only sensor noise
    varies it), the sizes are an adult's and the performers stand ~3 m from the camera."""
    bones = [(j, p) for j, p in enumerate(NTU_PARENTS) if p >= 0]
    spine_mid_y, depth, foot_y = [], [], []
    for a in default_data['annotations'][::7]:
        for person in a['keypoint']:
            ok = np.any(person != 0, -1)  # drop-outs read 0
            for j, p in bones:
                both = ok[:, j] & ok[:, p]
                length = np.linalg.norm(person[both, j] - person[both, p], axis=-1)
                assert length.std() < 0.012, (a['frame_dir'], j, p)
            arm = np.linalg.norm(person[ok[:, 9] & ok[:, 8], 9]
                                 - person[ok[:, 9] & ok[:, 8], 8], axis=-1)
            assert 0.18 < arm.mean() < 0.32  # upper arm, metres
            spine_mid_y.append(np.median(person[:, 1, 1]))
            depth.append(np.median(person[:, 0, 2]))
            foot_y.append(np.median(np.minimum(person[:, 15, 1], person[:, 19, 1])))
    assert 0.9 < np.median(spine_mid_y) < 1.15
    assert 2.8 < np.median(depth) < 3.2
    assert 2.0 < np.min(depth) and np.max(depth) < 4.0  # interactions spread in depth
    assert np.abs(np.array(foot_y)).max() < 0.12


def test_cameras_see_one_performance_with_noise_and_dropouts(default_data):
    """Views differ by a yaw about the vertical axis, so heights (y) agree across cameras
    up to noise; some joints drop out (0) for a few frames, never a whole skeleton."""
    names = _by_name(default_data)
    diffs, dropped = [], 0
    for name, a in names.items():
        cam, subject, rep, action = NAME.match(name).groups()
        kp = a['keypoint']
        zero = np.all(kp == 0, -1)
        dropped += zero.any()
        assert not zero.all(-1).any(), name
        if cam == '001':
            other = names[f'S001C002P{subject}R{rep}A{action}']['keypoint']
            ok = ~zero & np.any(other != 0, -1)
            diffs.append(np.median(np.abs(kp[..., 1] - other[..., 1])[ok]))
            assert not np.allclose(kp[..., 0], other[..., 0], atol=0.05)  # x does rotate
    assert np.median(diffs) < 0.02
    assert 0 < dropped < len(names) / 2


def _motion_feature(kp):
    """Yaw-invariant hand-made feature of the main performer ``kp[0]`` ``(T, 25, 3)``:
    per-joint mean speed, mean height above the spine base and height range, and M."""
    x = kp[0].astype(np.float64)
    ok = np.any(x != 0, -1)
    step = ok[1:] & ok[:-1]
    speed = (np.linalg.norm(x[1:] - x[:-1], axis=-1) * step).sum(0) / np.maximum(
        step.sum(0), 1)
    y = np.where(ok, x[..., 1], np.nan)
    height = np.nanmean(y, 0) - np.nanmean(y[:, 0])
    y_range = np.nanpercentile(y, 95, 0) - np.nanpercentile(y, 5, 0)
    return np.concatenate([speed, height, y_range, [kp.shape[0]]])


@pytest.mark.parametrize('protocol', ['xsub', 'xview'])
def test_classes_are_learnable_across_subjects_and_views(default_data, protocol):
    """A nearest-centroid classifier on the hand-made feature generalises to unseen
    subjects / cameras far above chance (10%): the labels live in the motion."""
    names = _by_name(default_data)

    def features(split):
        annos = [names[n] for n in default_data['split'][split]]
        return (np.stack([_motion_feature(a['keypoint']) for a in annos]),
                np.array([a['label'] for a in annos]))

    x_train, y_train = features(f'{protocol}_train')
    x_val, y_val = features(f'{protocol}_val')
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    centroids = np.stack([x_train[y_train == c].mean(0) for c in range(10)])
    pred = np.argmin(((x_val[:, None] - centroids[None]) ** 2).sum(-1), 1)
    assert (pred == y_val).mean() > 0.7
    # The same feature on shuffled labels is at chance: accuracy comes from the motion.
    y_shuffled = np.random.default_rng(0).permutation(y_train)
    centroids = np.stack([x_train[y_shuffled == c].mean(0) for c in range(10)])
    pred = np.argmin(((x_val[:, None] - centroids[None]) ** 2).sum(-1), 1)
    assert (pred == y_val).mean() < 0.35


def test_all_classes_and_frame_bounds():
    data = generate_synthetic_ntu(num_classes=18, subjects=2, views=2, reps=1,
                                  min_frames=60, max_frames=80)
    assert {a['label'] for a in data['annotations']} == set(range(18))
    assert all(60 <= a['total_frames'] <= 80 for a in data['annotations'])
    persons = {a['label']: a['keypoint'].shape[0] for a in data['annotations']}
    assert sorted(k for k, m in persons.items() if m == 2) == [6, 7, 8, 15, 17]


@pytest.mark.parametrize('kwargs, field', [
    (dict(num_classes=19), 'num_classes'), (dict(subjects=1), 'subjects'),
    (dict(views=1), 'views'), (dict(seed=-1), 'seed'), (dict(reps=1.5), 'reps'),
    (dict(min_frames=50, max_frames=40), 'max_frames'),
    (dict(views=2, view_yaws=[0.0]), 'view_yaws')])
def test_bad_arguments_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field):
        generate_synthetic_ntu(**kwargs)


def test_write_is_atomic_and_loads_through_pose_dataset(tmp_path):
    path = tmp_path / 'new' / 'dir' / 'synthetic_ntu.pkl'
    data = write_synthetic_ntu(str(path), **SMALL)
    assert os.listdir(path.parent) == ['synthetic_ntu.pkl']  # no temp file left behind
    with open(path, 'rb') as f:
        loaded = pickle.load(f)
    assert loaded['split'] == data['split']
    np.testing.assert_array_equal(loaded['annotations'][5]['keypoint'],
                                  data['annotations'][5]['keypoint'])

    pipeline = [
        dict(type='PreNormalize3D'),
        dict(type='GenSkeFeat', dataset='nturgb+d', feats=['j']),
        dict(type='UniformSampleFrames', clip_len=100),
        dict(type='PoseDecode'),
        dict(type='FormatGCNInput', num_person=2),
        dict(type='PackActionInputs'),
    ]
    with DefaultScope.overwrite_default_scope('mmaction'):  # as the runner sets it
        dataset = PoseDataset(ann_file=str(path), pipeline=pipeline, split='xsub_train')
        samples = [dataset[idx] for idx in range(0, len(dataset), 3)]
    assert len(dataset) == len(data['split']['xsub_train'])
    seen_persons = set()
    for sample in samples:
        inputs, label = sample['inputs'], sample['data_samples'].gt_label.item()
        assert tuple(inputs.shape) == (1, 2, 100, 25, 3)
        assert inputs.isfinite().all()
        two = SYNTHETIC_NTU_CLASSES[label] in TWO_PERSON
        assert bool(inputs[:, 1].abs().sum() > 0) == two
        seen_persons.add(two)
    assert seen_persons == {True, False}


def test_command_line_tool(tmp_path, repo_root):
    out = tmp_path / 'cli' / 'synth.pkl'
    proc = subprocess.run(
        [sys.executable, str(repo_root / 'tools/data/make_synthetic_ntu.py'), '--out',
         str(out), '--classes', '11', '--subjects', '2', '--views', '2', '--reps', '1',
         '--min-frames', '50', '--max-frames', '90'],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '44 clips' in proc.stdout and str(out) in proc.stdout
    assert 'xsub_train 22' in proc.stdout and 'xview_val 22' in proc.stdout
    with open(out, 'rb') as f:
        data = pickle.load(f)
    assert len(data['annotations']) == 44
    assert all(50 <= a['total_frames'] <= 90 for a in data['annotations'])


def test_one_way_actions_and_their_opposites_are_exact_time_reversals():
    # Same subject, camera and take: "stand up" is "sit down" played backwards, so a
    # model can tell them apart only by the direction of the motion.
    from gfp_mmaction.testing.synthetic.actions import ACTIONS, perform
    from gfp_mmaction.testing.synthetic.kinematics import Style
    names = [a[0] for a in ACTIONS]
    for forward, backward in (('sit down', 'stand up'), ('put both arms up', 'put both arms down'),
                              ('walk towards each other', 'walk apart')):
        styles = [Style(np.random.default_rng(1)) for _ in range(2)]
        ahead = perform(names.index(forward), 90, np.random.default_rng(7), styles)
        behind = perform(names.index(backward), 90, np.random.default_rng(7), styles)
        np.testing.assert_allclose(behind, ahead[:, ::-1])
        assert not np.allclose(ahead, ahead[:, ::-1], atol=0.05)  # not symmetric in time
