"""Validate an MMAction2 3D skeleton pickle and print a summary.

    python tools/data/check_skeleton_pkl.py FILE.pkl [--num-classes N] [--max-errors 50]

Checks every sample (required fields, keypoint shape ``(M, T, 25, 3)``, float dtype,
finite values, label range, ``total_frames``, empty clips, persons per clip) and every
split (references to existing samples, repeats, train/val overlap); see
:func:`gfp_mmaction.datasets.validation.validate_annotations`. Prints the summary (clips
per split, classes, length histogram, persons per clip), then each error, naming the
sample (``frame_dir``) and the field.

Exit codes: 0 valid, 1 errors found, 2 file unreadable (missing, not a pickle).
"""
import argparse
import pickle
import sys
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.datasets.validation import (summarize_annotations,  # noqa: E402
                                              validate_annotations)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Validate an MMAction2 3D skeleton pickle.')
    parser.add_argument('pkl', help='annotation pickle')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='labels must be 0..N-1 (default: only >= 0 is checked)')
    parser.add_argument('--max-errors', type=int, default=50,
                        help='print at most this many errors (default 50; 0 = all)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        with open(args.pkl, 'rb') as f:
            data = pickle.load(f)
    except Exception as e:  # any failure to unpickle means the file is unusable as is
        print(f'error: cannot read {args.pkl}: {type(e).__name__}: {e}', file=sys.stderr)
        return 2
    errors = validate_annotations(data, args.pkl, num_classes=args.num_classes)
    print(f'{args.pkl}')
    print(summarize_annotations(data))
    if not errors:
        print('OK: no errors')
        return 0
    shown = errors if args.max_errors <= 0 else errors[:args.max_errors]
    for message in shown:
        print(f'error: {message}')
    if len(shown) < len(errors):
        print(f'... and {len(errors) - len(shown)} more errors')
    print(f'FAILED: {len(errors)} errors')
    return 1


if __name__ == '__main__':
    sys.exit(main())
