"""2-D map of exported features, coloured by class; several feature files side by side.

    python tools/analysis/plot_features.py FEATURES.npz [FEATURES.npz ...] --out map.png
        [--titles NAME ...] [--method auto|tsne|pca] [--max-points 2000] [--seed 0]
        [--class-names NAME ...]

Each ``.npz`` (as ``tools/extract_features.py`` writes it) holds ``features`` ``(N, D)``
float, ``labels`` ``(N,)`` int and ``frame_dirs`` ``(N,)`` str. Each file becomes a panel
(e.g. the pre-trained encoder next to the same encoder with random weights).

The map is t-SNE (scikit-learn) when it is installed, else PCA (the two leading principal
components, by numpy's SVD); ``--method`` forces one. Above every panel: the leave-one-out
5-nearest-neighbour accuracy in the full feature space (cosine similarity), a number
for how well the features separate the classes, independent of the 2-D map. The drawing
is :func:`gfp_mmaction.visualization.plot_features`.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.visualization.features import METHODS, plot_features  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('files', nargs='+', metavar='FEATURES.npz', help='exported features')
    parser.add_argument('--out', required=True, help='output picture (.png)')
    parser.add_argument('--titles', nargs='+', help='panel title of each file')
    parser.add_argument('--method', choices=METHODS, default='auto',
                        help='auto: t-SNE if scikit-learn is installed, else PCA')
    parser.add_argument('--max-points', type=int, default=2000,
                        help='random subset of rows per file drawn above this many')
    parser.add_argument('--seed', type=int, default=0, help='seed of the subset and t-SNE')
    parser.add_argument('--class-names', nargs='+', help='legend name of label 0, 1, ...')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.max_points < 3:
        raise SystemExit(f'plot_features: --max-points must be >= 3, got {args.max_points}')
    path = plot_features(args.files, args.out, args.titles, args.method, args.max_points,
                         args.seed, args.class_names)
    print(f'plot_features: wrote {path}')
    return path


if __name__ == '__main__':
    main()
