"""Write a synthetic NTU RGB+D-style 3D skeleton annotation pickle.

    python tools/data/make_synthetic_ntu.py --out data/skeleton/synthetic_ntu_3d.pkl
        [--classes 10] [--subjects 8] [--views 3] [--reps 2] [--seed 0]
        [--min-frames 40] [--max-frames 300]

The pickle has MMAction2's NTU 3D layout (splits xsub_train/xsub_val/xview_train/
xview_val), so any NTU 3D config can use it through ``ann_file``.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.testing.synthetic import (  # noqa: E402
    SYNTHETIC_NTU_CLASSES, write_synthetic_ntu)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output .pkl path')
    parser.add_argument('--classes', type=int, default=10,
                        help=f'number of action classes (1-{len(SYNTHETIC_NTU_CLASSES)})')
    parser.add_argument('--subjects', type=int, default=8, help='performers (>= 2)')
    parser.add_argument('--views', type=int, default=3, help='cameras (>= 2)')
    parser.add_argument('--reps', type=int, default=2, help='takes per subject and action')
    parser.add_argument('--seed', type=int, default=0, help='random seed (>= 0)')
    parser.add_argument('--min-frames', type=int, default=40, help='shortest clip')
    parser.add_argument('--max-frames', type=int, default=300, help='longest clip')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.out.endswith('.pkl'):
        sys.exit(f'--out must end with .pkl (MMAction2 PoseDataset reads pickles), '
                 f'got {args.out}')
    start = time.time()
    try:
        data = write_synthetic_ntu(
            args.out, num_classes=args.classes, subjects=args.subjects, views=args.views,
            reps=args.reps, seed=args.seed, min_frames=args.min_frames,
            max_frames=args.max_frames)
    except ValueError as err:
        sys.exit(str(err))
    annos = data['annotations']
    frames = np.array([a['total_frames'] for a in annos])
    two = sum(a['keypoint'].shape[0] == 2 for a in annos)
    print(f'{len(annos)} clips in {time.time() - start:.1f} s; '
          f'{two} with two persons; frames {frames.min()}-{frames.max()} '
          f'(mean {frames.mean():.0f})')
    print('splits: ' + ', '.join(f'{k} {len(v)}' for k, v in data['split'].items()))
    print(f'classes ({args.classes}): '
          + ', '.join(f'{i} {n}' for i, n in enumerate(SYNTHETIC_NTU_CLASSES[:args.classes])))
    print(f'written to {Path(args.out).resolve()}')


if __name__ == '__main__':
    main()
