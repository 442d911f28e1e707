"""The synthetic ``temporal`` preset: classes differ in the order of two movements."""
import numpy as np
import pytest

from gfp_mmaction.evaluation.frozen_probe import linear_probe_accuracy, motion_energy_features
from gfp_mmaction.testing.synthetic.temporal import (
    MOVES,
    TEMPORAL_CLASSES,
    generate_synthetic_temporal,
    write_synthetic_temporal,
)

CLEAN = dict(noise_std=0.0, drop_prob=0.0, jump_rate=0.0, nuisance_rate=0.0,
             bystander_prob=0.0)
WRISTS, KNEES = [6, 10], [13, 17]


def test_classes_are_the_12_ordered_pairs_of_movement_kinds():
    assert len(MOVES) == 4 and len(TEMPORAL_CLASSES) == 12
    assert TEMPORAL_CLASSES[0] == 'raise arm, then bend knees'
    assert TEMPORAL_CLASSES[3] == 'bend knees, then raise arm'
    assert len(set(TEMPORAL_CLASSES)) == 12


def test_sizes_splits_and_determinism():
    a = generate_synthetic_temporal(subjects=2, views=2, reps=1, seed=3)
    b = generate_synthetic_temporal(subjects=2, views=2, reps=1, seed=3)
    c = generate_synthetic_temporal(subjects=2, views=2, reps=1, seed=4)
    assert len(a['annotations']) == 12 * 2 * 2 * 1
    assert {k: len(v) for k, v in a['split'].items()} == dict(
        xsub_train=24, xsub_val=24, xview_train=24, xview_val=24)
    assert all(np.array_equal(x['keypoint'], y['keypoint'])
               for x, y in zip(a['annotations'], b['annotations']))
    assert not np.array_equal(a['annotations'][0]['keypoint'], c['annotations'][0]['keypoint'])
    ann = a['annotations'][5]
    assert ann['keypoint'].dtype == np.float32 and ann['keypoint'].shape[1:] == \
        (ann['total_frames'], 25, 3)


def wrist_and_knee_peaks(ann):
    """Frame at which the wrists, and the knees, are furthest from their first position."""
    kp = ann['keypoint'][0].astype(float)
    disp = np.linalg.norm(kp - kp[:1], axis=-1)  # (T, 25)
    return disp[:, WRISTS].max(1).argmax(), disp[:, KNEES].max(1).argmax()


def test_the_order_of_the_two_movements_is_the_class():
    data = generate_synthetic_temporal(subjects=4, views=2, reps=2, seed=0, **CLEAN)
    arm_first = TEMPORAL_CLASSES.index('raise arm, then bend knees')
    knees_first = TEMPORAL_CLASSES.index('bend knees, then raise arm')
    for ann in data['annotations']:
        if ann['label'] in (arm_first, knees_first):
            wrist, knee = wrist_and_knee_peaks(ann)
            assert (wrist < knee) == (ann['label'] == arm_first), ann['frame_dir']


def test_reversed_classes_move_the_same_joints_as_much():
    """In mean motion energy per joint, every class is nearest to its own reverse: A-then-B
    and B-then-A move the same joints as much."""
    data = generate_synthetic_temporal(subjects=6, views=2, reps=3, seed=1, **CLEAN)
    energy = {}
    for ann in data['annotations']:
        energy.setdefault(ann['label'], []).append(
            motion_energy_features(ann['keypoint'], max_persons=1).reshape(25, 3)
            .sum(1))
    mean = {k: np.mean(v, 0) for k, v in energy.items()}
    for label, name in enumerate(TEMPORAL_CLASSES):
        first, second = name.split(', then ')
        reverse = TEMPORAL_CLASSES.index(f'{second}, then {first}')
        others = sorted(range(12), key=lambda k: np.abs(mean[label] - mean[k]).sum())
        assert others[:2] == [label, reverse], name  # nearest: itself, then its reverse


def test_nuisances_bystanders_and_tracking_errors_are_there():
    data = generate_synthetic_temporal(subjects=2, views=2, reps=4, seed=0)
    persons = [a['keypoint'].shape[0] for a in data['annotations']]
    assert set(persons) == {1, 2} and 0.15 < np.mean(np.array(persons) == 2) < 0.45
    dropped = [np.any(np.all(a['keypoint'] == 0, axis=-1)) for a in data['annotations']]
    assert 0.2 < np.mean(dropped) < 0.8


def test_motion_energy_cannot_solve_it():
    """The calibration the preset is made for: per-joint motion energy with logistic
    regression stays at or under 70 % on the cross-subject split (47 % measured)."""
    data = generate_synthetic_temporal()
    by_name = {a['frame_dir']: a for a in data['annotations']}

    def features(split):
        clips = [by_name[n] for n in data['split'][split]]
        return (np.stack([motion_energy_features(c['keypoint']) for c in clips]),
                np.array([c['label'] for c in clips]))
    assert len(data['split']['xsub_train']) == 1200
    top1 = linear_probe_accuracy(*features('xsub_train'), *features('xsub_val'))['top1']
    assert 1 / 12 + 0.15 < top1 <= 0.70


@pytest.mark.parametrize('kwargs, match', [
    (dict(subjects=1), 'subjects must be an integer in'),
    (dict(drop_prob=1.5), r'drop_prob must be in \[0, 1\]'),
    (dict(noise_std=-1.0), 'noise_std must be >= 0'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=f'generate_synthetic_temporal: {match}'):
        generate_synthetic_temporal(**kwargs)


def test_written_atomically(tmp_path):
    path = tmp_path / 'new' / 'temporal.pkl'
    data = write_synthetic_temporal(str(path), subjects=2, views=2, reps=1)
    assert [p.name for p in path.parent.iterdir()] == ['temporal.pkl']
    assert len(data['annotations']) == 48


def test_command_line_tool_writes_the_temporal_preset(tmp_path, repo_root):
    import pickle
    import subprocess
    import sys
    out = tmp_path / 'temporal.pkl'
    tool = str(repo_root / 'tools/data/make_synthetic_ntu.py')
    proc = subprocess.run([sys.executable, tool, '--preset', 'temporal', '--out', str(out),
                           '--subjects', '2', '--reps', '1'],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '48 clips' in proc.stdout and 'classes (12)' in proc.stdout
    with open(out, 'rb') as f:
        data = pickle.load(f)
    assert {a['label'] for a in data['annotations']} == set(range(12))
    proc = subprocess.run([sys.executable, tool, '--preset', 'temporal', '--out', str(out),
                           '--classes', '3'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and '--classes apply to the actions preset only' in proc.stderr
