"""PKU-MMD skeleton, label and split files."""
import re
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from .text import NUM_JOINTS, SkeletonFormatError, _parse_float_rows, _read_lines, _where

__all__ = ['read_pku_skeleton', 'pku_persons', 'PKUInstance', 'read_pku_labels',
           'read_pku_split']

PKU_FIELDS_PER_FRAME = 2 * NUM_JOINTS * 3  # 2 bodies x 25 joints x xyz


def read_pku_skeleton(path: str) -> np.ndarray:
    """Parse a PKU-MMD skeleton file: one line per frame, 150 numbers (2 bodies x 25
    joints x xyz; an absent second body is zeros). Blank lines may only end the file.

    Args:
        path (str): the skeleton file.

    Returns:
        np.ndarray: ``(T, 2, 25, 3)`` float64.
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
        frames (np.ndarray): ``(T, 2, 25, 3)``, as :func:`read_pku_skeleton` returns (or
            a slice).

    Returns:
        np.ndarray: float32 ``(M, T, 25, 3)``: the persons with any non-zero value in
        ``frames``, in file order, so a single actor gives ``M = 1``; ``M = 0`` when all are
        zero.
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

    Args:
        path (str): the split file.

    Returns:
        tuple[list[str], list[str]]: ``(train_videos, val_videos)``, in file order.
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
