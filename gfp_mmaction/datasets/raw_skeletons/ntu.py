"""NTU RGB+D ``.skeleton`` files: the reader and SGN's denoising into at most two actors."""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from .text import (
    NUM_JOINTS,
    SkeletonFormatError,
    _parse_float_rows,
    _parse_int,
    _read_lines,
    _where,
)

__all__ = ['NTUBody', 'NTUSequence', 'read_ntu_skeleton', 'spread_noisy', 'motion_energy',
           'denoise_ntu']

NTU_BODY_FIELDS = 10    # bodyID clippedEdges handLeftConfidence handLeftState
#                         handRightConfidence handRightState isRestricted leanX leanY
#                         trackingState
NTU_JOINT_FIELDS = 12   # x y z depthX depthY colorX colorY orientationW..Z trackingState


@dataclass
class NTUBody:
    """One tracked body of an NTU clip.

    Attributes:
        body_id (str): Kinect tracking id (the first body field, kept as text: it is a
            64-bit integer that a float would round).
        frames (np.ndarray): ``(n,)`` int64, the frame indices where the body was
            recorded, ascending.
        joints (np.ndarray): ``(n, 25, 3)`` float64 xyz in metres (camera frame), one row
            per frame.
    """
    body_id: str
    frames: np.ndarray
    joints: np.ndarray


@dataclass
class NTUSequence:
    """A parsed ``.skeleton`` file: ``num_frames`` from its header and its bodies in
    order of first appearance."""
    num_frames: int
    bodies: List[NTUBody] = field(default_factory=list)


def read_ntu_skeleton(path: str) -> NTUSequence:
    """Parse an NTU RGB+D ``.skeleton`` file.

    Format (whitespace-separated text): line 1 the frame count; per frame a line with the
    body count; per body a line of 10 body fields (the first is the tracking id), a line
    with the joint count (must be 25), then one line of 12 joint fields per joint, the
    first three being x y z. Blank lines may only follow the last frame.

    Raises:
        SkeletonFormatError: truncated file, wrong joint count, wrong field count,
            non-numeric or non-finite field, or data after the last frame.
    """
    lines = _read_lines(path)
    pos = 0  # index of the next line to read; line numbers printed are pos + 1

    def take(what: str) -> str:
        nonlocal pos
        if pos >= len(lines):
            raise SkeletonFormatError(f'{_where(path, pos + 1)}: unexpected end of file, '
                                      f'expected {what}')
        pos += 1
        return lines[pos - 1]

    num_frames = _parse_int(take('the frame count'), path, pos, 'frame count')
    tracks: Dict[str, Tuple[List[int], List[np.ndarray]]] = {}
    for t in range(num_frames):
        num_bodies = _parse_int(take(f'the body count of frame {t + 1}'), path, pos,
                                f'body count (frame {t + 1} of {num_frames})')
        seen_here: Dict[str, int] = {}
        for b in range(num_bodies):
            where = f'body {b + 1} of frame {t + 1}'
            info = take(f'the info line of {where}')
            # Checked for shape and numbers only: the converters use joint positions alone.
            _parse_float_rows([info], NTU_BODY_FIELDS, path, pos, f'the info line of {where}')
            body_id = info.split()[0]
            num_joints = _parse_int(take(f'the joint count of {where}'), path, pos,
                                    f'joint count of {where}')
            if num_joints != NUM_JOINTS:
                raise SkeletonFormatError(f'{_where(path, pos)}: expected {NUM_JOINTS} joints '
                                          f'in {where}, got {num_joints}')
            if pos + NUM_JOINTS > len(lines):
                raise SkeletonFormatError(
                    f'{_where(path, len(lines) + 1)}: unexpected end of file, expected '
                    f'{NUM_JOINTS} joint lines of {where}, got {len(lines) - pos}')
            joints = _parse_float_rows(lines[pos:pos + NUM_JOINTS], NTU_JOINT_FIELDS, path,
                                       pos + 1, f'a joint line of {where}')
            pos += NUM_JOINTS
            # The same id twice in one frame would merge two skeletons into one track:
            # give the repeat its own track instead.
            repeat = seen_here.get(body_id, 0)
            seen_here[body_id] = repeat + 1
            key = body_id if repeat == 0 else f'{body_id}#{repeat}'
            frames, coords = tracks.setdefault(key, ([], []))
            frames.append(t)
            coords.append(joints[:, :3])
    for k in range(pos, len(lines)):
        if lines[k].strip():
            raise SkeletonFormatError(f'{_where(path, k + 1)}: expected end of file after '
                                      f'{num_frames} frames, got {lines[k].strip()[:40]!r}')
    bodies = [NTUBody(key, np.asarray(frames, dtype=np.int64), np.stack(coords))
              for key, (frames, coords) in tracks.items()]
    return NTUSequence(num_frames=num_frames, bodies=bodies)


# Denoising thresholds (SGN's, as MAMP uses them): see :func:`denoise_ntu`.
MISSING_JOINT_FRACTION = 0.5     # rule 1
LENGTH_THRESHOLD = 11            # rule 2 (SGN noise_len_thres)
SPREAD_RATIO = 0.8               # rule 3 (SGN noise_spr_thres1)
SPREAD_NOISY_FRACTION = 0.69754  # rule 3 (SGN noise_spr_thres2)
MAX_ACTORS = 2


def spread_noisy(joints: np.ndarray) -> np.ndarray:
    """``(n, 25, 3)`` -> ``(n,)`` bool: the frame's x-extent exceeds ``SPREAD_RATIO``
    times its y-extent (wide and flat: furniture or a reflection, not a person)."""
    extent = joints.max(axis=1) - joints.min(axis=1)  # (n, 3)
    return extent[:, 0] > SPREAD_RATIO * extent[:, 1]


def motion_energy(joints: np.ndarray) -> float:
    """Sum over joints and xyz of the variance over time; ``joints`` ``(n, 25, 3)``."""
    return float(joints.var(axis=0).sum())


def denoise_ntu(seq: NTUSequence, path: str = '<sequence>') -> Tuple[np.ndarray, Dict[str, int]]:
    """Turn a parsed ``.skeleton`` file into a clip of at most two actors (SGN's rules,
    as MAMP prepares NTU; ``tools/data/ntu_raw_to_pkl.py`` documents them in full).

    1. A body's frame with more than half of its joints at exactly (0, 0, 0) is not
       recorded.
    2. A body recorded in at most ``LENGTH_THRESHOLD`` frames is dropped.
    3. With several bodies, one whose frames are wide-and-flat (:func:`spread_noisy`) in
       at least ``SPREAD_NOISY_FRACTION`` of its frames is dropped.
    4. The rest are ranked by :func:`motion_energy`, most moving first.
    5. In that order each body joins actor 1 if it never overlaps actor 1's frame span,
       else actor 2 likewise, else it is dropped.
    6. Frames where no actor is recorded are removed.

    Rules 2 and 3 never remove the last body.

    Args:
        seq (NTUSequence): the parsed file.
        path (str): the file, for error messages. Defaults to ``'<sequence>'``.

    Returns:
        tuple[np.ndarray, dict[str, int]]: ``keypoint`` float32 ``(M, T', 25, 3)`` with
        ``M`` in {1, 2}, actors ordered by motion energy, and counts: ``dropped_length``,
        ``dropped_spread``, ``dropped_overlap`` (bodies), ``merged`` (bodies joined to an
        actor's track), ``dropped_frames``.

    Raises:
        SkeletonFormatError: no body has a recorded frame.
    """
    stats = dict(dropped_length=0, dropped_spread=0, dropped_overlap=0, merged=0,
                 dropped_frames=0)
    bodies = []  # (frames (n,), joints (n, 25, 3))
    for body in seq.bodies:  # rule 1
        missing = (body.joints == 0).all(axis=2).mean(axis=1) > MISSING_JOINT_FRACTION
        if (~missing).any():
            bodies.append((body.frames[~missing], body.joints[~missing]))
    if not bodies:
        raise SkeletonFormatError(
            f'{path}: no body with recorded joints in any of its {seq.num_frames} frames '
            '(NTU lists such samples in NTU_RGBD*_samples_with_missing_skeletons.txt; '
            'ntu_raw_to_pkl.py skips them with --missing-list)')

    long_enough = [b for b in bodies if len(b[0]) > LENGTH_THRESHOLD]  # rule 2
    if not long_enough:
        long_enough = [max(bodies, key=lambda b: len(b[0]))]
    stats['dropped_length'] = len(bodies) - len(long_enough)
    bodies = long_enough

    if len(bodies) > 1:  # rule 3
        noisy = [spread_noisy(j).mean() for _, j in bodies]
        kept = [b for b, r in zip(bodies, noisy) if r < SPREAD_NOISY_FRACTION]
        if not kept:
            kept = [bodies[int(np.argmin(noisy))]]
        stats['dropped_spread'] = len(bodies) - len(kept)
        bodies = kept

    # Rule 4; a stable sort keeps first appearance as the tie-break.
    bodies = sorted(bodies, key=lambda b: -motion_energy(b[1]))
    tracks: List[List[int]] = []  # per actor: [first frame, last frame]
    placed: List[List[Tuple[np.ndarray, np.ndarray]]] = []
    for frames, joints in bodies:  # rule 5
        lo, hi = int(frames[0]), int(frames[-1])
        for a, (t_lo, t_hi) in enumerate(tracks):
            if hi < t_lo or lo > t_hi:
                tracks[a] = [min(lo, t_lo), max(hi, t_hi)]
                placed[a].append((frames, joints))
                stats['merged'] += 1
                break
        else:
            if len(tracks) < MAX_ACTORS:
                tracks.append([lo, hi])
                placed.append([(frames, joints)])
            else:
                stats['dropped_overlap'] += 1

    keypoint = np.zeros((len(placed), seq.num_frames, NUM_JOINTS, 3), dtype=np.float32)
    recorded = np.zeros((len(placed), seq.num_frames), dtype=bool)
    for a, parts in enumerate(placed):
        for frames, joints in parts:
            keypoint[a, frames] = joints
            recorded[a, frames] = True
    keep = recorded.any(axis=0)  # rule 6
    stats['dropped_frames'] = int((~keep).sum())
    return np.ascontiguousarray(keypoint[:, keep]), stats
