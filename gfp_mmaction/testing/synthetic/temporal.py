"""The ``temporal`` preset: classes told apart by the order of movements, not by which
joints move.

The default synthetic actions (:mod:`.actions`) differ in which body parts move, so a
linear model on per-joint motion energy, or an encoder with random weights, already
separates them. Here every class is an ordered pair of two different movement kinds
(:data:`MOVES`): *raise an arm, then bend the knees* and *bend the knees, then raise an
arm* move the same joints by the same amounts, only in the other order. On top of that:

- **styles**: every kind is performed in one of several ways, drawn per performance
  (the right, the left or both arms; a deep squat, a half squat or one knee; ...);
- **timing**: pauses before, between (possibly overlapping) and after the two movements,
  and each movement's duration, vary per performance and with the performer's tempo;
- **nuisance movements unrelated to the class**: a hand brought to the face, head turns,
  a weight shift, drawn independently of the label and placed anywhere in the clip;
- **idle second persons**: in some clips a bystander stands nearby and fidgets (the
  annotation then holds two persons; the label is the first person's);
- **viewpoints**: every camera stands at a yaw drawn per performance in
  ``[-yaw_range, yaw_range]`` degrees;
- **tracking noise and drop-outs**: Gaussian noise, short jumps of single joints and
  joints lost for a few frames.

The output is the same MMAction2 NTU 3D annotation dict as
:func:`~.writer.generate_synthetic_ntu` (splits ``xsub_*`` by subject parity, ``xview_*``
by camera 1 against the others), so every synthetic config reads it unchanged.
"""
import itertools
import pickle
from typing import Dict, List, Tuple

import numpy as np

from ...utils.atomic_io import atomic_write
from .kinematics import (
    FPS,
    NECK,
    NUM_JOINTS,
    SPINE,
    Pose,
    Style,
    keyframes,
    pose_joints,
    yaw_matrix,
)
from .writer import check_int, record_view

__all__ = ['MOVES', 'TEMPORAL_CLASSES', 'generate_synthetic_temporal',
           'write_synthetic_temporal']

# Movement kinds and the number of styles each is performed in.
MOVES: Tuple[Tuple[str, int], ...] = (
    ('raise arm', 3),      # right arm forward / left arm forward / both arms sideways
    ('bend knees', 3),     # deep squat / half squat, arms forward / right knee up
    ('lean torso', 4),     # bow / lean right / lean left / twist
    ('step', 4),           # forward / right / left / back, and return
)
# Every ordered pair of two different kinds is a class: 4 x 3 = 12 classes.
_PAIRS: List[Tuple[int, int]] = list(itertools.permutations(range(len(MOVES)), 2))
_WHO = 'generate_synthetic_temporal'
TEMPORAL_CLASSES = tuple(f'{MOVES[a][0]}, then {MOVES[b][0]}' for a, b in _PAIRS)


def _move(p: Pose, kind: int, style: int, e: np.ndarray, amp: float) -> None:
    """Add one movement of ``kind`` in ``style`` to ``p``, following the envelope ``e``
    ``(T,)`` (0 at rest, 1 at the movement's height)."""
    d = amp * e
    if kind == 0:  # raise arm
        if style < 2:
            p.arm('rl'[style], flex=2.5 * d, elbow=0.3 * d)
        else:
            for side in 'rl':
                p.arm(side, abduct=2.3 * d, elbow=-0.1 * d)
    elif kind == 1:  # bend knees
        if style == 2:
            p.leg('r', flex=1.5 * d, knee=1.6 * d)
            p.arm('l', abduct=0.3 * d)
            return
        depth = (1.0, 0.55)[style]
        for side in 'rl':
            p.leg(side, flex=1.1 * depth * d, knee=1.8 * depth * d, ankle=0.7 * depth * d)
            p.arm(side, flex=(0.4, 1.4)[style] * d)
        p.trunk(flex=0.4 * depth * d)
    elif kind == 2:  # lean torso
        if style == 0:
            p.trunk(flex=0.9 * d)
            p.angles[:, NECK, 0] -= 0.3 * d
        elif style == 3:
            p.trunk(twist=0.8 * d)
        else:
            p.trunk(side=(0.45 if style == 1 else -0.45) * d)
    else:  # step out and back
        axis, sign = ((2, -1.0), (0, 1.0), (0, -1.0), (2, 1.0))[style]
        p.trans[:, axis] += sign * 0.45 * d
        speed = np.clip(np.abs(np.gradient(d)) * FPS / 0.6, 0.0, 1.0)
        lead = 'r' if sign > 0 or axis == 2 else 'l'
        p.leg(lead, flex=0.35 * speed if axis == 2 else 0.0,
              abduct=0.25 * speed if axis == 0 else 0.0, knee=0.5 * speed)


def _bump(T: int, start: float, length: float) -> np.ndarray:
    """Envelope ``(T,)``: rises over the first 35 % of ``[start, start + length)``
    frames, holds, falls over the last 35 %; 0 elsewhere."""
    u = (np.arange(T) - start) / max(length, 1.0)
    return keyframes(np.clip(u, 0.0, 1.0), [0.0, 0.35, 0.65, 1.0], [0.0, 1.0, 1.0, 0.0])


def _nuisances(p: Pose, rng: np.random.Generator, rate: float) -> None:
    """Movements unrelated to the class, each present with probability ``rate`` and
    placed anywhere in the clip."""
    T = p.angles.shape[0]

    def somewhere(seconds):
        length = rng.uniform(*seconds) * FPS
        return _bump(T, rng.uniform(-0.2 * length, T - 0.8 * length), length)

    if rng.random() < rate:  # a hand to the face
        e = somewhere((0.6, 1.4))
        p.arm(rng.choice(['r', 'l']), flex=1.4 * e, adduct_h=0.6 * e, elbow=2.0 * e)
    if rng.random() < rate:  # head turns
        p.angles[:, NECK, 1] += rng.choice([-1.0, 1.0]) * 0.6 * somewhere((0.5, 1.5))
    if rng.random() < rate:  # weight shift
        p.trans[:, 0] += rng.choice([-1.0, 1.0]) * 0.08 * somewhere((1.0, 2.5))
        p.angles[:, SPINE, 2] += rng.normal(0.0, 0.08) * somewhere((1.0, 2.5))


def _perform_pair(label: int, style: Style, rng: np.random.Generator, nuisance_rate: float
                  ) -> np.ndarray:
    """One performance of class ``label``: ``(T, 25, 3)`` in scene coordinates."""
    first, second = _PAIRS[label]
    durations = [rng.uniform(0.9, 1.8) * FPS / style.tempo for _ in range(2)]
    pre, gap, post = (rng.uniform(0.2, 1.2) * FPS, rng.uniform(-0.3, 0.8) * FPS,
                      rng.uniform(0.2, 1.2) * FPS)
    T = int(round(pre + durations[0] + gap + durations[1] + post))
    p = Pose(T)
    starts = (pre, pre + durations[0] + gap)
    for kind, start, length in zip((first, second), starts, durations):
        _move(p, kind, int(rng.integers(MOVES[kind][1])), _bump(T, start, length),
              style.amp)
    _nuisances(p, rng, nuisance_rate)
    return pose_joints(p, style, rng)


def _bystander(T: int, style: Style, rng: np.random.Generator) -> np.ndarray:
    """An idle second person, 1-1.8 m to either side, turned a little, fidgeting."""
    p = Pose(T)
    _nuisances(p, rng, 0.7)
    joints = pose_joints(p, style, rng) @ yaw_matrix(rng.uniform(-0.8, 0.8)).T
    joints[..., 0] += rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 1.8)
    joints[..., 2] += rng.uniform(-0.3, 0.5)
    return joints


def _jumps(kp: np.ndarray, rng: np.random.Generator, rate: float) -> None:
    """Tracking errors in place: single joints jump by 5-15 cm for 1-3 frames."""
    M, T = kp.shape[:2]
    for _ in range(rng.poisson(rate * T / FPS)):
        m, j, t0 = rng.integers(M), rng.integers(NUM_JOINTS), rng.integers(T)
        step = rng.normal(size=3)
        kp[m, t0:t0 + rng.integers(1, 4), j] += \
            rng.uniform(0.05, 0.15) * step / np.linalg.norm(step)


def generate_synthetic_temporal(subjects: int = 20, views: int = 2, reps: int = 5,
                                seed: int = 0, yaw_range: float = 60.0,
                                noise_std: float = 0.01, drop_prob: float = 0.4,
                                jump_rate: float = 0.5, nuisance_rate: float = 0.4,
                                bystander_prob: float = 0.3) -> Dict:
    """Generate the ``temporal`` preset's NTU-style 3D annotation dict.

    ``12 * subjects * reps`` performances, each seen by ``views`` cameras: with the
    defaults 2,400 clips, 1,200 in each cross-subject split.

    Args:
        subjects (int): performers (>= 2); odd ids train, even ids validate (``xsub``).
        views (int): cameras per performance (>= 2); camera 1 validates (``xview``).
        reps (int): performances of every class per subject.
        seed (int): non-negative; equal seeds give identical data.
        yaw_range (float): cameras stand at yaws uniform in ``[-yaw_range, yaw_range]``
            degrees, drawn per performance and camera.
        noise_std (float): Gaussian sensor noise per coordinate, metres.
        drop_prob (float): chance that a person loses 1-3 joints for 2-10 frames.
        jump_rate (float): single-joint tracking jumps per person-second (Poisson).
        nuisance_rate (float): chance of each class-unrelated movement.
        bystander_prob (float): chance of an idle second person.

    Returns:
        dict: ``dict(split=..., annotations=[...])``; ``keypoint`` float32
        ``(M, T, 25, 3)`` with ``M`` 1, or 2 with a bystander; labels ``0 .. 11`` index
        :data:`TEMPORAL_CLASSES`.
    """
    subjects = check_int('subjects', subjects, 2, 999, _WHO)
    views = check_int('views', views, 2, 999, _WHO)
    reps = check_int('reps', reps, 1, 999, _WHO)
    seed = check_int('seed', seed, 0, who=_WHO)
    for name, value in (('drop_prob', drop_prob), ('nuisance_rate', nuisance_rate),
                        ('bystander_prob', bystander_prob)):
        if not 0 <= value <= 1:
            raise ValueError(f'{_WHO}: {name} must be in [0, 1], '
                             f'got {value!r}')
    for name, value in (('yaw_range', yaw_range), ('noise_std', noise_std),
                        ('jump_rate', jump_rate)):
        if not value >= 0:
            raise ValueError(f'{_WHO}: {name} must be >= 0, '
                             f'got {value!r}')

    def stream(*key):
        return np.random.default_rng([seed, 7, *key])

    performers = {s: (Style(stream(1, s)), Style(stream(2, s)))
                  for s in range(1, subjects + 1)}
    annotations = []
    split = {k: [] for k in ('xsub_train', 'xsub_val', 'xview_train', 'xview_val')}
    for label in range(len(_PAIRS)):
        for subject in range(1, subjects + 1):
            for rep in range(1, reps + 1):
                rng = stream(3, label, subject, rep)
                actor, other = (p.varied(rng) for p in performers[subject])
                scene = _perform_pair(label, actor, rng, nuisance_rate)[None]
                if rng.random() < bystander_prob:
                    scene = np.concatenate([scene, _bystander(scene.shape[1], other,
                                                              rng)[None]])
                for view in range(1, views + 1):
                    cam = stream(4, label, subject, rep, view)
                    kp = record_view(scene, cam.uniform(-yaw_range, yaw_range), cam,
                                     noise_std, drop_prob)
                    _jumps(kp, cam, jump_rate)
                    name = f'S002C{view:03d}P{subject:03d}R{rep:03d}A{label + 1:03d}'
                    annotations.append(dict(frame_dir=name, label=label,
                                            total_frames=kp.shape[1], keypoint=kp))
                    split['xsub_train' if subject % 2 else 'xsub_val'].append(name)
                    split['xview_val' if view == 1 else 'xview_train'].append(name)
    return dict(split=split, annotations=annotations)


def write_synthetic_temporal(path: str, **kwargs) -> Dict:
    """Generate (``kwargs`` as :func:`generate_synthetic_temporal`) and pickle to
    ``path`` atomically (:func:`gfp_mmaction.utils.atomic_write`).

    Returns:
        dict: the generated dict.
    """
    data = generate_synthetic_temporal(**kwargs)
    atomic_write(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), fsync=False)
    return data
