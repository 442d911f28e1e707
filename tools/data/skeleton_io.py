"""Readers for raw skeleton datasets and the plumbing shared by the converters.

numpy / tqdm / standard library only, so the converters start fast and their worker
processes stay light. Every reader raises :class:`SkeletonFormatError` with a message
``"<file>:<line>: <what was expected>, got <what was found>"`` on malformed input.

- :func:`read_ntu_skeleton`: NTU RGB+D ``.skeleton`` text files (one record per body
  and frame, tracked by Kinect body id).
- :func:`read_pku_skeleton`, :func:`read_pku_labels`, :func:`read_pku_split`: PKU-MMD
  skeleton, label and split files.
- :func:`atomic_pickle_dump`: temp file in the destination folder, then ``os.replace``.
- :func:`convert_all`: ordered, optionally multi-process map with a progress bar that
  turns per-file format errors into fatal errors or counted warnings (``--skip-bad``).
"""
import os
import pickle
import re
import sys
import tempfile
from dataclasses import dataclass, field
from multiprocessing import Pool
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

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


# --------------------------------------------------------------------------- plumbing
def atomic_pickle_dump(obj, out_path: str) -> None:
    """Pickle ``obj`` to ``out_path`` atomically: a temp file in the same folder, flushed
    to disk, then ``os.replace``. On any error the temp file is removed, so no partial
    output appears and an existing ``out_path`` is left untouched."""
    out_path = os.path.abspath(out_path)
    folder = os.path.dirname(out_path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{os.path.basename(out_path)}.',
                               suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the usual mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _call(job):
    func, item = job
    try:
        return True, func(item)
    except SkeletonFormatError as e:
        return False, str(e)


def convert_all(func: Callable, items: Sequence, workers: int = 1, skip_bad: bool = False,
                desc: str = 'converting', unit: str = 'file') -> Tuple[List, List[str]]:
    """Apply ``func`` to every item, in order, with a progress bar on stderr.

    ``func`` must be a picklable module-level function when ``workers > 1`` (a
    ``multiprocessing.Pool`` with ordered ``imap``). A :class:`SkeletonFormatError`
    from ``func`` aborts the whole run (re-raised here, the pool is terminated) unless
    ``skip_bad``, when it is printed as a warning and counted.

    Returns:
        ``(results, skipped)``: ``func``'s results of the good items in input order, and
        the error messages of the skipped ones.
    """
    jobs = [(func, item) for item in items]
    results, skipped = [], []
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)

    def consume(outcomes: Iterable):
        for ok, value in outcomes:
            bar.update()
            if ok:
                results.append(value)
            elif skip_bad:
                skipped.append(value)
                tqdm.write(f'warning: skipped: {value}', file=sys.stderr)
            else:
                raise SkeletonFormatError(value)

    try:
        if workers > 1 and len(jobs) > 1:
            chunksize = max(1, min(32, len(jobs) // (workers * 8)))
            with Pool(workers) as pool:
                consume(pool.imap(_call, jobs, chunksize=chunksize))
        else:
            consume(map(_call, jobs))
    finally:
        bar.close()
    return results, skipped
