"""Training curves from MMEngine's scalar logs, several runs overlaid
(``tools/analysis/plot_curves.py``, the demo).

A run is a work dir (every ``<timestamp>/vis_data/scalars.json`` under it, oldest first,
so a resumed run continues its curve), one timestamp folder, or a ``scalars.json`` file.
Each logged quantity gets its own panel, with one line per run.

The x axis is the training iteration. MMEngine writes three kinds of records: training
records (they carry ``iter``), collapse-monitor records (keys ``collapse/...``, ``step`` =
iteration) and validation records (``step`` = epoch); the last are placed at the last
iteration of their epoch.
"""
import fnmatch
import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .common import check_out_path, save_figure

__all__ = ['find_scalar_logs', 'read_records', 'load_curves', 'panel_order', 'select_keys',
           'run_labels', 'plot_curves']

# Bookkeeping fields of MMEngine's records, not curves.
NOT_CURVES = {'step', 'epoch', 'iter', 'time', 'data_time', 'memory'}

Curves = Dict[str, List[Tuple[float, float]]]


def find_scalar_logs(run: str) -> List[Path]:
    """The ``scalars.json`` files of one run, oldest first.

    Args:
        run (str): a work dir, one timestamp folder or a ``scalars.json`` file.

    Returns:
        list[Path]: the logs.
    """
    path = Path(run)
    if path.is_file():
        return [path]
    if (path / 'vis_data' / 'scalars.json').is_file():
        return [path / 'vis_data' / 'scalars.json']
    logs = sorted(path.glob('*/vis_data/scalars.json'))  # timestamp folders sort by time
    if not logs:
        raise SystemExit(f'plot_curves: no scalar log in {run}: expected '
                         f'{run}/<timestamp>/vis_data/scalars.json (written by MMEngine\'s '
                         'LocalVisBackend)')
    return logs


def read_records(log: Path) -> List[dict]:
    """The JSON records of one ``scalars.json``, one per line.

    Args:
        log (Path): the log file.

    Returns:
        list[dict]: the records, each with a ``step`` field.
    """
    records = []
    for number, line in enumerate(log.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise SystemExit(f'plot_curves: {log}, line {number}: not JSON ({error})')
        if not isinstance(record, dict) or 'step' not in record:
            raise SystemExit(f'plot_curves: {log}, line {number}: expected a JSON object with '
                             f'a "step" field, got {line[:80]!r}')
        records.append(record)
    return records


def load_curves(run: str) -> Curves:
    """Every numeric field of a run's records as a curve over iterations.

    Args:
        run (str): as :func:`find_scalar_logs`.

    Returns:
        dict[str, list[tuple]]: ``{key: [(iteration, value), ...]}``, sorted by iteration.
    """
    records = [r for log in find_scalar_logs(run) for r in read_records(log)]
    last_iter_of_epoch = {}
    for record in records:
        if 'iter' in record and 'epoch' in record:
            epoch = record['epoch']
            last_iter_of_epoch[epoch] = max(last_iter_of_epoch.get(epoch, 0), record['iter'])
    curves: Curves = OrderedDict()
    for record in records:
        if 'iter' in record:
            x = record['iter']
        elif any(key.startswith('collapse/') for key in record):
            x = record['step']
        else:  # validation: step is the epoch
            x = last_iter_of_epoch.get(record['step'], record['step'])
        for key, value in record.items():
            if key in NOT_CURVES or isinstance(value, bool) \
                    or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            curves.setdefault(key, []).append((x, value))
    for points in curves.values():
        points.sort(key=lambda point: point[0])
    return curves


def panel_order(key: str) -> Tuple[int, str]:
    """Sort key of the panels: losses first, then learning rates, the collapse monitor,
    everything else."""
    if key == 'loss':
        return 0, ''
    if key.startswith('loss'):
        return 1, key
    if key.endswith('lr'):
        return 2, key
    if key.startswith('collapse/'):
        return (3 if key.endswith('_std') else 4), key
    return 5, key


def select_keys(all_keys: Sequence[str], patterns: Optional[Sequence[str]]) -> List[str]:
    """The panels to draw, in :func:`panel_order`.

    Args:
        all_keys (Sequence[str]): the logged quantities (repeats allowed).
        patterns (Sequence[str], optional): shell-style patterns; None keeps every key.

    Returns:
        list[str]: the chosen keys.
    """
    keys = sorted(set(all_keys), key=panel_order)
    if patterns:
        keys = [k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in patterns)]
        if not keys:
            raise SystemExit(f'plot_curves: no logged quantity matches --keys {" ".join(patterns)};'
                             f' the logs hold: {", ".join(sorted(set(all_keys)))}')
    return keys


def run_labels(runs: Sequence[str], labels: Optional[Sequence[str]]) -> List[str]:
    """Legend names: ``labels``, else the runs' folder names (their paths when two are
    equal)."""
    if labels:
        if len(labels) != len(runs):
            raise SystemExit(f'plot_curves: {len(labels)} --labels for {len(runs)} runs')
        return list(labels)
    names = [Path(run).resolve().name for run in runs]
    return names if len(set(names)) == len(names) else [str(run) for run in runs]


def plot_curves(runs: Sequence[str], out: str, keys: Optional[Sequence[str]] = None,
                labels: Optional[Sequence[str]] = None, cols: int = 4) -> Path:
    """Draw one panel per logged quantity, one line per run, and save a PNG.

    Args:
        runs (Sequence[str]): work dirs, timestamp folders or ``scalars.json`` files.
        out (str): the picture (``.png``), written atomically.
        keys (Sequence[str], optional): shell-style patterns of the quantities to draw.
        labels (Sequence[str], optional): legend name of each run.
        cols (int): panels per row.

    Returns:
        Path: the picture.
    """
    import matplotlib.pyplot as plt
    path = check_out_path(out)
    curves = [load_curves(run) for run in runs]
    names = run_labels(runs, labels)
    panels = select_keys([k for c in curves for k in c], keys)
    if not panels:
        raise SystemExit(f'plot_curves: the logs of {", ".join(runs)} hold no curves')
    cols = max(1, min(cols, len(panels)))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False)
    colours = plt.get_cmap('tab10')
    for ax, key in zip(axes.flat, panels):
        for index, (run_curves, name) in enumerate(zip(curves, names)):
            points = run_curves.get(key)
            if not points:
                continue
            x, y = zip(*points)
            single = len(points) == 1  # a lone validation point still shows
            ax.plot(x, y, marker='o' if single or len(points) < 12 else None, markersize=3,
                    color=colours(index % 10), label=name, linewidth=1.4)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel('iteration', fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if key.endswith('lr'):
            ax.ticklabel_format(axis='y', style='sci', scilimits=(-3, 3))
    for ax in list(axes.flat)[len(panels):]:
        ax.axis('off')
    handles, texts = [], []
    for ax in axes.flat:  # one legend for the figure, from whichever panel has every run
        h, t = ax.get_legend_handles_labels()
        if len(t) > len(texts):
            handles, texts = h, t
    fig.legend(handles, texts, loc='upper center', ncol=min(len(texts), 6), fontsize=9,
               frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.9 * rows)))
    return save_figure(fig, path)
