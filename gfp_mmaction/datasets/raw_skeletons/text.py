"""What the raw-format readers share: the format error and strict text parsing.

Every reader raises :class:`SkeletonFormatError` with a message
``"<file>:<line>: <what was expected>, got <what was found>"`` on malformed input.
"""
from typing import List, Optional, Sequence

import numpy as np

__all__ = ['NUM_JOINTS', 'SkeletonFormatError']

NUM_JOINTS = 25


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
