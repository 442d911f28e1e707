"""Procedurally generated NTU RGB+D-style 3D skeleton actions (pure numpy): the writer.

The generator stands in for NTU RGB+D where the real data cannot be had (demo, tests).
Every clip is a human performance: a per-subject skeleton (NTU's 25 Kinect joints, bone
offsets in metres) driven by per-frame joint rotations through forward kinematics, so the
classes differ only in *how the body moves*. On top come the nuisances a real recording
has: who performs (height, tempo, amplitude, posture, phase), how often and how fast
(clip length), where the camera stands (yaw about the vertical axis), Kinect noise
(a few millimetres) and short joint drop-outs (a joint reads ``0`` for a few frames).

As in NTU, the cameras of one setup record the *same* performance at once: a performance
is generated once per ``(subject, rep, action)`` and seen from every camera, each view
with its own noise and drop-outs.

Coordinates are NTU's camera frame: ``x`` right, ``y`` up, ``z`` depth away from the
camera; the floor is near ``y = 0`` and the performers stand about 3 m from the camera.

The output is MMAction2's NTU 3D annotation dict::

    dict(split=dict(xsub_train=[...], xsub_val=[...], xview_train=[...], xview_val=[...]),
         annotations=[dict(frame_dir='S001C001P001R001A001', label=0, total_frames=T,
                           keypoint=float32 (M, T, 25, 3)), ...])

with ``M = 1`` for single-person actions and ``M = 2`` for interactions.
"""
import pickle
from typing import Dict, Optional, Sequence

import numpy as np

from ...utils.atomic_io import atomic_write
from .actions import ACTIONS, SYNTHETIC_NTU_CLASSES, perform
from .kinematics import DROPPABLE, FPS, Style, yaw_matrix

__all__ = ['generate_synthetic_ntu', 'write_synthetic_ntu', 'SYNTHETIC_NTU_CLASSES']


def record_view(scene: np.ndarray, yaw_deg: float, rng: np.random.Generator,
                noise_std: float, drop_prob: float) -> np.ndarray:
    """What one camera records of a scene: ``(M, T, 25, 3)`` float32 in camera frame."""
    yaw = np.deg2rad(yaw_deg) + rng.normal(0.0, 0.08)  # camera placement varies a little
    centre = np.array([rng.uniform(-0.25, 0.25), 0.0, rng.uniform(2.7, 3.3)])
    kp = scene @ yaw_matrix(yaw).T + centre
    kp = kp + rng.normal(0.0, noise_std, kp.shape)
    M, T = kp.shape[:2]
    for m in range(M):
        if rng.random() < drop_prob:  # Kinect loses a joint for a few frames
            for _ in range(rng.integers(1, 4)):
                j = rng.choice(DROPPABLE)
                t0 = rng.integers(1, max(T - 2, 2))
                kp[m, t0:t0 + rng.integers(2, 11), j] = 0.0
    return kp.astype(np.float32)


def check_int(name: str, value, low: int, high: Optional[int] = None,
              who: str = 'generate_synthetic_ntu') -> int:
    """``value`` as an int, or a ValueError naming ``who``'s argument ``name`` and the
    allowed range ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value > high):
        allowed = f'in [{low}, {high}]' if high is not None else f'>= {low}'
        raise ValueError(f'{who}: {name} must be an integer {allowed}, '
                         f'got {value!r}')
    return int(value)


def generate_synthetic_ntu(num_classes: int = 10, subjects: int = 8, views: int = 3,
                           reps: int = 2, seed: int = 0, min_frames: int = 40,
                           max_frames: int = 300, view_yaws: Optional[Sequence[float]] = None,
                           noise_std: float = 0.004, drop_prob: float = 0.25) -> Dict:
    """Generate an NTU RGB+D-style 3D skeleton annotation dict.

    There are ``num_classes * subjects * reps`` performances, each seen by ``views``
    cameras, so ``num_classes * subjects * views * reps`` clips. Splits follow NTU:
    ``xsub`` trains on odd subject ids and validates on even ones; ``xview`` validates
    on camera 1 and trains on the others.

    Args:
        num_classes (int): the first ``num_classes`` of :data:`SYNTHETIC_NTU_CLASSES`
            (1-18); the default 10 include two interactions (handshake, push).
        subjects (int): performers (>= 2, so both xsub splits are non-empty). Defaults
            to 8.
        views (int): cameras (>= 2, so both xview splits are non-empty). Defaults to 3.
        reps (int): takes of every action per subject and camera. Defaults to 2.
        seed (int): non-negative integer; equal seeds give identical data. Defaults to
            0.
        min_frames (int): shortest clip ``T`` (8 <= min_frames <= max_frames). Defaults
            to 40.
        max_frames (int): longest clip ``T``. Defaults to 300.
        view_yaws (Sequence[float], optional): camera yaw in degrees per view; default
            evenly spread over ``[-45, 45]`` (NTU's three cameras).
        noise_std (float): std of the Gaussian sensor noise per coordinate, metres.
            Defaults to 0.004.
        drop_prob (float): chance that a clip's performer loses 1-3 joints for 2-10
            frames. Defaults to 0.25.

    Returns:
        dict: ``dict(split=..., annotations=[...])`` as described in the module
        docstring; ``keypoint`` is float32 ``(M, T, 25, 3)`` with ``M`` 1 or 2, labels
        are ``0 .. num_classes - 1`` and ``frame_dir`` is
        ``S001C{view}P{subject}R{rep}A{label+1}``.
    """
    num_classes = check_int('num_classes', num_classes, 1, len(ACTIONS))
    subjects = check_int('subjects', subjects, 2, 999)
    views = check_int('views', views, 2, 999)
    reps = check_int('reps', reps, 1, 999)
    seed = check_int('seed', seed, 0)
    min_frames = check_int('min_frames', min_frames, 8)
    max_frames = check_int('max_frames', max_frames, min_frames)
    if view_yaws is None:
        view_yaws = np.linspace(-45.0, 45.0, views)
    if len(view_yaws) != views:
        raise ValueError(f'generate_synthetic_ntu: view_yaws must hold one yaw per view '
                         f'({views}), got {len(view_yaws)}')
    if not noise_std >= 0 or not 0 <= drop_prob <= 1:
        raise ValueError(f'generate_synthetic_ntu: noise_std must be >= 0 and drop_prob in '
                         f'[0, 1], got {noise_std!r} and {drop_prob!r}')

    def stream(*key):  # independent reproducible random stream per purpose
        return np.random.default_rng([seed, *key])

    performers = {s: (Style(stream(1, s)), Style(stream(2, s)))  # self, partner
                  for s in range(1, subjects + 1)}
    annotations, split = [], {k: [] for k in ('xsub_train', 'xsub_val', 'xview_train',
                                               'xview_val')}
    for label in range(num_classes):
        lo, hi = ACTIONS[label][3]
        for subject in range(1, subjects + 1):
            for rep in range(1, reps + 1):
                rng = stream(3, label, subject, rep)
                styles = [p.varied(rng) for p in performers[subject]]
                T = int(np.clip(round(rng.uniform(lo, hi) * FPS / styles[0].tempo),
                                min_frames, max_frames))
                scene = perform(label, T, rng, styles)
                for view in range(1, views + 1):
                    name = f'S001C{view:03d}P{subject:03d}R{rep:03d}A{label + 1:03d}'
                    kp = record_view(scene, view_yaws[view - 1],
                                     stream(4, label, subject, rep, view), noise_std, drop_prob)
                    annotations.append(dict(frame_dir=name, label=label, total_frames=T,
                                            keypoint=kp))
                    split['xsub_train' if subject % 2 else 'xsub_val'].append(name)
                    split['xview_val' if view == 1 else 'xview_train'].append(name)
    return dict(split=split, annotations=annotations)


def write_synthetic_ntu(path: str, **kwargs) -> Dict:
    """Generate (``kwargs`` as :func:`generate_synthetic_ntu`) and pickle to ``path``.

    Written atomically (:func:`gfp_mmaction.utils.atomic_write`): readers never see a
    partial file; parent folders are created.

    Args:
        path (str): the ``.pkl`` file to write.
        **kwargs: the arguments of :func:`generate_synthetic_ntu`.

    Returns:
        dict: the generated dict.
    """
    data = generate_synthetic_ntu(**kwargs)
    atomic_write(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), fsync=False)
    return data
