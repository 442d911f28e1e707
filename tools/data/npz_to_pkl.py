"""Convert a MAMP / CTR-GCN ``.npz`` to an MMAction2 3D skeleton pickle with one split pair.

    python tools/data/npz_to_pkl.py --npz NTU60_CS.npz --split xsub --out ntu60_xsub.pkl
        [--workers N] [--skip-bad]

Input: ``x_train`` ``(N, T_pad, M*75)`` (MAMP / CTR-GCN: ``(N, 300, 150)``, 2 bodies x 25
joints x xyz per frame, zero-padded after the clip), ``y_train`` one-hot ``(N, C)`` (or
integer labels ``(N,)``), and ``x_test``, ``y_test`` alike. Output::

    dict(split={f'{split}_train': [...], f'{split}_val': [...]},
         annotations=[dict(frame_dir=f'{split}_train_000000', label=int,
                           total_frames=T, keypoint=float32 (M, T, 25, 3)), ...])

``T`` = the last frame with a non-zero value + 1 (the trailing zero padding is removed;
zero frames inside the clip stay). Persons with no non-zero value are dropped, so a
single actor gives ``M = 1``. Values are copied as stored: these files are usually
already centred on the first frame, which the pipeline's ``CentreOnFirstFrame`` then
leaves unchanged.

An uncompressed ``.npz`` (``np.savez``, what MAMP and CTR-GCN write) is memory-mapped and
rows are converted in ``--workers`` processes; a compressed one is loaded whole and
converted in one process.
"""
import argparse
import os.path as osp
import re
import struct
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.datasets.raw_skeletons import NUM_JOINTS, SkeletonFormatError  # noqa: E402
from gfp_mmaction.datasets.skeleton_io import (  # noqa: E402
    add_convert_args,
    convert_all,
    write_converted,
)

PARTS = (('train', 'x_train', 'y_train'), ('val', 'x_test', 'y_test'))
_ARRAYS: Dict[Tuple[str, str], np.ndarray] = {}  # per process: (path, key) -> array


def _zip_member(path: str, key: str) -> zipfile.ZipInfo:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if f'{key}.npy' not in names:
                raise SkeletonFormatError(f'{path}: expected an array {key!r}, the file has '
                                          f'{sorted(n[:-4] for n in names)}')
            return zf.getinfo(f'{key}.npy')
    except (zipfile.BadZipFile, EOFError) as e:
        raise SkeletonFormatError(f'{path}: not a readable .npz (zip) file: {e}') from None


def npz_array(path: str, key: str) -> np.ndarray:
    """Array ``key`` of the ``.npz`` at ``path``, cached per process: a read-only memory
    map when the member is stored uncompressed, else the decompressed array."""
    if (path, key) in _ARRAYS:
        return _ARRAYS[(path, key)]
    info = _zip_member(path, key)
    array = None
    if info.compress_type == zipfile.ZIP_STORED:
        with open(path, 'rb') as f:
            # The .npy starts after the member's local header: 30 bytes, then the name
            # and extra field, whose lengths sit at bytes 26-29.
            f.seek(info.header_offset)
            local = f.read(30)
            if len(local) == 30 and local[:4] == b'PK\x03\x04':
                name_len, extra_len = struct.unpack('<HH', local[26:30])
                f.seek(info.header_offset + 30 + name_len + extra_len)
                try:
                    version = np.lib.format.read_magic(f)
                    read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                                   (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read_header is not None:
                        shape, fortran, dtype = read_header(f)
                        if not dtype.hasobject and f.tell() + int(np.prod(shape)) * \
                                dtype.itemsize <= osp.getsize(path):
                            array = np.memmap(path, dtype=dtype, mode='r', offset=f.tell(),
                                              shape=shape, order='F' if fortran else 'C')
                except ValueError:
                    array = None  # let np.load below report the problem
    if array is None:
        try:
            with np.load(path, allow_pickle=False) as npz:
                array = npz[key]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise SkeletonFormatError(f'{path}: array {key!r} is unreadable: {e}') from None
    _ARRAYS[(path, key)] = array
    return array


def _labels(path: str, key: str, num_rows: int) -> Tuple[np.ndarray, List[Optional[str]]]:
    """``y`` one-hot ``(N, C)`` or integer ``(N,)`` -> labels ``(N,)`` int64 and, per row,
    an error message or ``None``."""
    y = np.asarray(npz_array(path, key))
    if y.ndim not in (1, 2) or len(y) != num_rows:
        raise SkeletonFormatError(f'{path}: {key}: expected shape ({num_rows}, num_classes) or '
                                  f'({num_rows},) to match the x array, got {y.shape}')
    errors: List[Optional[str]] = [None] * num_rows
    if y.ndim == 2:
        labels = np.argmax(y, axis=1).astype(np.int64)
        one_hot = ((y != 0).sum(axis=1) == 1) & (y[np.arange(num_rows), labels] == 1)
        for i in np.flatnonzero(~one_hot):
            errors[i] = (f'{path}: {key} row {i}: expected a one-hot vector, got non-zero '
                         f'entries at {np.flatnonzero(y[i]).tolist()[:5]}')
    else:
        values = y.astype(np.float64)
        bad = ~np.isfinite(values)
        labels = np.where(bad, -1, values).astype(np.int64)  # no cast of NaN / inf
        bad |= (labels != values) | (labels < 0)
        for i in np.flatnonzero(bad):
            errors[i] = f'{path}: {key} row {i}: expected an integer label >= 0, got {y[i]!r}'
    return labels, errors


def convert_row(item: Tuple[str, str, int, int, str, Optional[str]]) -> dict:
    """``(path, x_key, row, label, frame_dir, label_error)`` -> annotation."""
    path, key, row, label, frame_dir, label_error = item
    if label_error is not None:
        raise SkeletonFormatError(label_error)
    x = np.asarray(npz_array(path, key)[row], dtype=np.float32)  # (T_pad, M * 75)
    if not np.isfinite(x).all():
        frame = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise SkeletonFormatError(f'{path}: {key} row {row}: non-finite value in frame {frame}')
    nonzero = (x != 0).any(axis=1)  # (T_pad,)
    if not nonzero.any():
        raise SkeletonFormatError(f'{path}: {key} row {row}: all zeros, an empty sample')
    length = len(nonzero) - int(np.argmax(nonzero[::-1]))  # last non-zero frame + 1
    keypoint = x[:length].reshape(length, -1, NUM_JOINTS, 3).transpose(1, 0, 2, 3)
    keypoint = keypoint[(keypoint != 0).any(axis=(1, 2, 3))]  # drop empty persons
    return dict(frame_dir=frame_dir, label=int(label), total_frames=length,
                keypoint=np.ascontiguousarray(keypoint))


def build_npz_annotations(path: str, split_name: str, workers: int = 1,
                          skip_bad: bool = False) -> Tuple[dict, dict]:
    """Convert both parts of the ``.npz``.

    Args:
        path (str): the ``.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``).
        split_name (str): the pickle gets ``<split_name>_train`` and
            ``<split_name>_val`` (e.g. ``xsub``, ``xview``, ``xset``).
        workers (int): processes. Defaults to 1.
        skip_bad (bool): skip malformed samples with a warning instead of failing.
            Defaults to False.

    Returns:
        tuple[dict, dict]: ``(data, stats)``: the pickle's content and counts (``rows``,
        ``converted``, ``bad_skipped``, ``compressed``).
    """
    _ARRAYS.clear()  # the file may have changed since an earlier call in this process
    items = []
    stats = dict(rows=0, compressed=False)
    for part, x_key, y_key in PARTS:
        x = npz_array(path, x_key)
        stats['compressed'] |= not isinstance(x, np.memmap)
        if x.ndim != 3 or x.shape[2] == 0 or x.shape[2] % (NUM_JOINTS * 3):
            raise SkeletonFormatError(f'{path}: {x_key}: expected shape (N, T, M * '
                                      f'{NUM_JOINTS * 3}), got {x.shape}')
        if not np.issubdtype(x.dtype, np.number):
            raise SkeletonFormatError(f'{path}: {x_key}: expected numbers, got dtype {x.dtype}')
        labels, errors = _labels(path, y_key, len(x))
        items += [(path, x_key, i, int(labels[i]), f'{split_name}_{part}_{i:06d}', errors[i])
                  for i in range(len(x))]
        stats['rows'] += len(x)
    if stats['compressed'] and workers > 1:
        print('note: compressed .npz, converting in one process', file=sys.stderr)
        workers = 1
    annotations, skipped = convert_all(convert_row, items, workers=workers, skip_bad=skip_bad,
                                       desc='npz samples', unit='sample')
    stats.update(converted=len(annotations), bad_skipped=len(skipped))
    split = {f'{split_name}_{part}': [a['frame_dir'] for a in annotations
                                      if a['frame_dir'].startswith(f'{split_name}_{part}_')]
             for part, _, _ in PARTS}
    return dict(split=split, annotations=annotations), stats


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a MAMP / CTR-GCN .npz to an MMAction2 3D pickle.')
    parser.add_argument('--npz', required=True, help='input .npz (x_train, y_train, x_test, '
                        'y_test)')
    parser.add_argument('--split', required=True,
                        help='split name: the pickle gets <split>_train and <split>_val '
                        '(e.g. xsub, xview, xset)')
    parser.add_argument('--out', required=True, help='output .pkl')
    add_convert_args(parser, 'samples')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not re.fullmatch(r'[A-Za-z0-9]+', args.split):
        print(f'error: --split must be letters and digits, got {args.split!r}', file=sys.stderr)
        return 1
    if not osp.isfile(args.npz):
        print(f'error: --npz {args.npz}: no such file', file=sys.stderr)
        return 1
    stats = write_converted(
        lambda: build_npz_annotations(args.npz, args.split, workers=args.workers,
                                      skip_bad=args.skip_bad),
        args.out, empty_message=lambda stats: f'{args.npz}: no sample converted',
        summary=lambda stats: (f'{stats["converted"]} clips from {stats["rows"]} rows '
                               f'({stats["bad_skipped"]} malformed skipped)'))
    return 1 if stats is None else 0


if __name__ == '__main__':
    sys.exit(main())
