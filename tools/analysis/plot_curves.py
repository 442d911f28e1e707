"""Training curves from MMEngine's scalar logs, several runs overlaid.

    python tools/analysis/plot_curves.py WORK_DIR [WORK_DIR ...] --out curves.png
        [--keys PATTERN ...] [--labels NAME ...] [--cols 4]

A run is a work dir (every ``<timestamp>/vis_data/scalars.json`` under it, oldest first,
so a resumed run continues its curve), one timestamp folder, or a ``scalars.json`` file.
Each logged quantity gets its own panel (losses, learning rate, the collapse monitor's
``collapse/*_std`` and ``collapse/*_erank``, validation metrics, ...), with one line per
run; ``--keys`` picks panels by name (shell-style patterns: ``'loss*' 'collapse/*_std'``).

The x axis is the training iteration. MMEngine writes three kinds of records: training
records (they carry ``iter``), collapse-monitor records (keys ``collapse/...``, ``step`` =
iteration) and validation records (``step`` = epoch); the last are placed at the last
iteration of their epoch. The drawing is :func:`gfp_mmaction.visualization.plot_curves`.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.visualization import plot_curves  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', metavar='WORK_DIR',
                        help='work dirs, timestamp folders or scalars.json files')
    parser.add_argument('--out', required=True, help='output picture (.png)')
    parser.add_argument('--keys', nargs='+', help="quantities to draw, shell-style patterns, "
                        "e.g. 'loss*' lr 'collapse/*_std' (default: all)")
    parser.add_argument('--labels', nargs='+', help='legend name of each run')
    parser.add_argument('--cols', type=int, default=4, help='panels per row')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    path = plot_curves(args.runs, args.out, args.keys, args.labels, args.cols)
    print(f'plot_curves: wrote {path}')
    return path


if __name__ == '__main__':
    main()
