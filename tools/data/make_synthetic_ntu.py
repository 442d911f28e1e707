"""Write a synthetic NTU RGB+D-style 3D skeleton annotation pickle.

    python tools/data/make_synthetic_ntu.py --out data/skeleton/synthetic_ntu_3d.pkl
        [--preset actions|temporal] [--subjects N] [--views N] [--reps N] [--seed 0]
        [--classes 10] [--min-frames 40] [--max-frames 300]   (actions preset only)

Two presets:

- ``actions`` (the default, the demo's data): up to 18 NTU-like actions that differ in
  which body parts move; defaults 8 subjects, 3 views, 2 reps (480 clips at 10 classes);
- ``temporal``: 12 classes told apart by the order of two movements, with nuisance
  movements, bystanders, random viewpoints and tracking errors
  (``gfp_mmaction/testing/synthetic/temporal.py``); defaults 20 subjects, 2 views,
  5 reps (2,400 clips, 1,200 per cross-subject split).

The pickle has MMAction2's NTU 3D layout (splits xsub_train/xsub_val/xview_train/
xview_val), so any NTU 3D config can use it through ``ann_file``.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.testing.synthetic import SYNTHETIC_NTU_CLASSES, write_synthetic_ntu  # noqa: E402
from gfp_mmaction.testing.synthetic.temporal import TEMPORAL_CLASSES, write_synthetic_temporal  # noqa: E402

PRESET_DEFAULTS = dict(actions=dict(subjects=8, views=3, reps=2),
                       temporal=dict(subjects=20, views=2, reps=5))
ACTIONS_ONLY = ('classes', 'min_frames', 'max_frames')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output .pkl path')
    parser.add_argument('--preset', choices=sorted(PRESET_DEFAULTS), default='actions',
                        help='which synthetic dataset (see above)')
    parser.add_argument('--subjects', type=int, help='performers (>= 2)')
    parser.add_argument('--views', type=int, help='cameras (>= 2)')
    parser.add_argument('--reps', type=int, help='takes per subject and class')
    parser.add_argument('--seed', type=int, default=0, help='random seed (>= 0)')
    parser.add_argument('--classes', type=int,
                        help=f'actions preset: number of action classes '
                             f'(1-{len(SYNTHETIC_NTU_CLASSES)}, default 10)')
    parser.add_argument('--min-frames', type=int, help='actions preset: shortest clip (40)')
    parser.add_argument('--max-frames', type=int, help='actions preset: longest clip (300)')
    args = parser.parse_args(argv)
    for key, value in PRESET_DEFAULTS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.preset == 'temporal':
        given = [f'--{k.replace("_", "-")}' for k in ACTIONS_ONLY if getattr(args, k) is not None]
        if given:
            parser.error(f'{", ".join(given)} apply to the actions preset only')
    else:
        for key, value in zip(ACTIONS_ONLY, (10, 40, 300)):
            if getattr(args, key) is None:
                setattr(args, key, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    if not args.out.endswith('.pkl'):
        sys.exit(f'--out must end with .pkl (MMAction2 PoseDataset reads pickles), '
                 f'got {args.out}')
    start = time.time()
    try:
        if args.preset == 'temporal':
            data = write_synthetic_temporal(args.out, subjects=args.subjects, views=args.views,
                                            reps=args.reps, seed=args.seed)
            classes = TEMPORAL_CLASSES
        else:
            data = write_synthetic_ntu(
                args.out, num_classes=args.classes, subjects=args.subjects,
                views=args.views, reps=args.reps, seed=args.seed,
                min_frames=args.min_frames, max_frames=args.max_frames)
            classes = SYNTHETIC_NTU_CLASSES[:args.classes]
    except ValueError as err:
        sys.exit(str(err))
    annos = data['annotations']
    frames = np.array([a['total_frames'] for a in annos])
    two = sum(a['keypoint'].shape[0] == 2 for a in annos)
    print(f'{len(annos)} clips in {time.time() - start:.1f} s; '
          f'{two} with two persons; frames {frames.min()}-{frames.max()} '
          f'(mean {frames.mean():.0f})')
    print('splits: ' + ', '.join(f'{k} {len(v)}' for k, v in data['split'].items()))
    print(f'classes ({len(classes)}): ' + ', '.join(f'{i} {n}' for i, n in enumerate(classes)))
    print(f'written to {Path(args.out).resolve()}')


if __name__ == '__main__':
    main()
