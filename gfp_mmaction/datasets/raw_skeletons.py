"""Readers of the raw skeleton datasets, and the per-clip preparation shared by the
data converters (``tools/data/``) and single-sample inference (``tools/inference.py``).

numpy and the standard library only. Every reader raises :class:`SkeletonFormatError`
with a message ``"<file>:<line>: <what was expected>, got <what was found>"`` on
malformed input.

- :func:`read_ntu_skeleton`: NTU RGB+D ``.skeleton`` text files (one record per body
  and frame, tracked by Kinect body id); :func:`denoise_ntu` turns one into an
  ``(M, T, 25, 3)`` clip of at most two actors.
- :func:`read_pku_skeleton`, :func:`read_pku_labels`, :func:`read_pku_split`: PKU-MMD
  skeleton, label and split files; :func:`pku_persons` keeps the persons present in a
  stretch of frames.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'NUM_JOINTS', 'SkeletonFormatError', 'NTUBody', 'NTUSequence', 'read_ntu_skeleton',
    'spread_noisy', 'motion_energy', 'denoise_ntu', 'read_pku_skeleton', 'PKUInstance',
    'read_pku_labels', 'read_pku_split', 'pku_persons'
]

NUM_JOINTS = 25
NTU_BODY_FIELDS = 10    # bodyID clippedEdges handLeftConfidence handLeftState
#                         handRightConfidence handRightState isRestricted leanX leanY
#                         trackingState
NTU_JOINT_FIELDS = 12   # x y z depthX depthY colorX colorY orientationW..Z trackingState
PKU_FIELDS_PER_FRAME = 2 * NUM_JOINTS * 3  # 2 bodies x 25 joints x xyz


class SkeletonFormatError(ValueError):
    """Malformed raw input; the message names the file and, where there is one, the line."""


def _where(path: str, line: Optional[int] = None) -> str:
    return f'{path}:{line}' if line is not None else str(path)


def _read_lines(path: str) -> List[str]:
    """The file's lines without line ends; undecodable bytes are a format error."""
    try:
        with open(path, encoding='utf-8') as f:
            return f.read().splitlines()
    except UnicodeDecodeError as e:
        raise SkeletonFormatError(f'{path}: not a text file ({e.reason} at byte {e.start})')


def _parse_int(text: str, path: str, line: int, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise SkeletonFormatError(
            f'{_where(path, line)}: expected an integer {what}, got {text.strip()!r}') from None
    if value < 0:
        raise SkeletonFormatError(f'{_where(path, line)}: expected a non-negative {what}, '
                                  f'got {value}')
    return value


def _parse_float_rows(rows: Sequence[str], num_fields: int, path: str, first_line: int,
                      what: str) -> np.ndarray:
    """Parse whitespace-separated numeric lines into a float64 ``(len(rows), num_fields)``.

    ``first_line`` is the 1-based line number of ``rows[0]``. Wrong field counts,
    non-numeric and non-finite fields are errors naming the line.
    """
    split = [r.split() for r in rows]
    for k, fields in enumerate(split):
        if len(fields) != num_fields:
            raise SkeletonFormatError(f'{_where(path, first_line + k)}: expected {num_fields} '
                                      f'fields in {what}, got {len(fields)}')
    try:
        values = np.array(split, dtype=np.float64).reshape(len(rows), num_fields)
    except ValueError:
        values = None  # locate the culprit below; the fast path gives no position
    if values is not None and np.isfinite(values).all():
        return values
    for k, fields in enumerate(split):
        for j, text in enumerate(fields):
            try:
                number = float(text)
            except ValueError:
                raise SkeletonFormatError(f'{_where(path, first_line + k)}: field {j + 1} of '
                                          f'{what}: expected a number, got {text!r}') from None
            if not np.isfinite(number):
                raise SkeletonFormatError(f'{_where(path, first_line + k)}: field {j + 1} of '
                                          f'{what}: expected a finite number, got {text!r}')
    raise AssertionError('unreachable: the fast parse failed but every field parses')


# --------------------------------------------------------------------------- NTU RGB+D
@dataclass
class NTUBody:
    """One tracked body of an NTU clip.

    Attributes:
        body_id: Kinect tracking id (the first body field, kept as text: it is a 64-bit
            integer that a float would round).
        frames: ``(n,)`` int64, the frame indices where the body was recorded, ascending.
        joints: ``(n, 25, 3)`` float64 xyz in metres (camera frame), one row per frame.
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
        seq: the parsed file.
        path: the file, for error messages.

    Returns:
        ``keypoint`` float32 ``(M, T', 25, 3)`` with ``M`` in {1, 2}, actors ordered by
        motion energy, and counts: ``dropped_length``, ``dropped_spread``,
        ``dropped_overlap`` (bodies), ``merged`` (bodies joined to an actor's track),
        ``dropped_frames``.

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


# --------------------------------------------------------------------------- PKU-MMD
def read_pku_skeleton(path: str) -> np.ndarray:
    """Parse a PKU-MMD skeleton file: one line per frame, 150 numbers (2 bodies x 25
    joints x xyz; an absent second body is zeros). Blank lines may only end the file.

    Returns:
        ``(T, 2, 25, 3)`` float64.
    """
    lines = _read_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise SkeletonFormatError(f'{path}: expected at least one frame line of '
                                  f'{PKU_FIELDS_PER_FRAME} numbers, got an empty file')
    values = _parse_float_rows(lines, PKU_FIELDS_PER_FRAME, path, 1, 'a frame line')
    return values.reshape(len(lines), 2, NUM_JOINTS, 3)


def pku_persons(frames: np.ndarray) -> np.ndarray:
    """The persons of a stretch of PKU-MMD frames, in MMAction2's layout.

    Args:
        frames: ``(T, 2, 25, 3)``, as :func:`read_pku_skeleton` returns (or a slice).

    Returns:
        float32 ``(M, T, 25, 3)``: the persons with any non-zero value in ``frames``, in
        file order, so a single actor gives ``M = 1``; ``M = 0`` when all are zero.
    """
    present = (frames != 0).any(axis=(0, 2, 3))  # (2,)
    return np.ascontiguousarray(frames.transpose(1, 0, 2, 3)[present].astype(np.float32))


@dataclass
class PKUInstance:
    """One labelled action instance of a PKU-MMD label file (``line`` is 1-based)."""
    action: int
    start: int
    end: int
    confidence: float
    line: int


def read_pku_labels(path: str, num_classes: int) -> List[PKUInstance]:
    """Parse a PKU-MMD label file: one ``action,start,end,confidence`` line per instance
    (action 1-based, frames as integers). Blank lines are ignored.

    Raises:
        SkeletonFormatError: wrong field count, non-numeric field, action outside
            ``1..num_classes``, non-integer frame, or ``start > end``.
    """
    instances = []
    for k, text in enumerate(_read_lines(path), start=1):
        if not text.strip():
            continue
        fields = [f.strip() for f in text.split(',')]
        if len(fields) != 4:
            raise SkeletonFormatError(f'{_where(path, k)}: expected 4 comma-separated fields '
                                      f'(action,start,end,confidence), got {len(fields)}')
        numbers = []
        for j, (name, value) in enumerate(zip(('action', 'start', 'end', 'confidence'), fields)):
            try:
                number = float(value)
            except ValueError:
                raise SkeletonFormatError(f'{_where(path, k)}: field {j + 1} ({name}): expected '
                                          f'a number, got {value!r}') from None
            kind = 'a finite number' if name == 'confidence' else 'an integer'
            if not np.isfinite(number) or (name != 'confidence' and number != int(number)):
                raise SkeletonFormatError(f'{_where(path, k)}: field {j + 1} ({name}): expected '
                                          f'{kind}, got {value!r}')
            numbers.append(number)
        action, start, end = int(numbers[0]), int(numbers[1]), int(numbers[2])
        if not 1 <= action <= num_classes:
            raise SkeletonFormatError(f'{_where(path, k)}: field 1 (action): expected 1..'
                                      f'{num_classes}, got {action}')
        if start < 0 or end < start:
            raise SkeletonFormatError(f'{_where(path, k)}: expected 0 <= start <= end, got '
                                      f'start={start}, end={end}')
        instances.append(PKUInstance(action, start, end, numbers[3], k))
    return instances


_SPLIT_HEADER = re.compile(r'^\s*(training|validation|validataion|testing|test)\s+videos?\s*:',
                           re.IGNORECASE | re.MULTILINE)


def read_pku_split(path: str) -> Tuple[List[str], List[str]]:
    """Parse a PKU-MMD split file (``cross-subject.txt``, ``cross_view_v2.txt``, ...).

    The files read ``Training videos:`` followed by comma-separated video names, then
    ``Validataion videos:`` (sic) and the test videos. Names may be spread over several
    lines and separated by commas and/or white space; a ``.txt`` suffix is dropped. The
    second header may also be spelt ``Validation``, ``Testing`` or ``Test``.

    Returns:
        ``(train_videos, val_videos)``, in file order.
    """
    text = '\n'.join(_read_lines(path))
    headers = list(_SPLIT_HEADER.finditer(text))
    kinds = ['train' if h.group(1).lower() == 'training' else 'val' for h in headers]
    if kinds != ['train', 'val']:
        raise SkeletonFormatError(
            f'{path}: expected a "Training videos:" section followed by a "Validataion videos:" '
            f'section, got headers {[h.group(0).strip() for h in headers]}')
    if text[:headers[0].start()].strip():
        raise SkeletonFormatError(f'{path}:1: expected "Training videos:", got '
                                  f'{text[:headers[0].start()].strip()[:40]!r}')

    def names(body: str) -> List[str]:
        items = [n.strip() for n in re.split(r'[,\s]+', body) if n.strip()]
        return [n[:-4] if n.lower().endswith('.txt') else n for n in items]

    train = names(text[headers[0].end():headers[1].start()])
    val = names(text[headers[1].end():])
    both = sorted(set(train) & set(val))
    if both:
        raise SkeletonFormatError(f'{path}: videos listed for both training and validation: '
                                  f'{both[:5]}{" ..." if len(both) > 5 else ""}')
    return train, val
