"""The one-command demo: GFP pre-training and evaluation on the embedded dataset.

    python tools/demo.py [--work-dir work_dirs/demo] [--quick]

1. generates the synthetic NTU-format skeleton dataset (tools/data/make_synthetic_ntu.py)
   into the work dir unless it is already there;
2. pre-trains GFP on its cross-subject training split (configs/gfp/gfp_synthetic_xsub.py);
3. evaluates the frozen pre-trained encoder and the same encoder with random weights on
   the cross-subject validation split: a linear probe (configs/gfp/linear_synthetic_xsub.py)
   and nearest-neighbour retrieval (configs/gfp/retrieval_synthetic_xsub.py);
4. draws the training curves and a 2-D map of both encoders' features;
5. prints a table: accuracy and time of each.

Every stage runs the real configs through tools/train.py, tools/test.py and
tools/extract_features.py with MMEngine's runner; logs, checkpoints, pictures and the
summary (summary.json) land under the work dir. ``--quick`` is the same path on a smaller
dataset with short schedules (under two minutes).
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / 'tools' / 'analysis'))

from gfp_mmaction.datasets.synthetic_ntu import (SYNTHETIC_NTU_CLASSES,  # noqa: E402
                                                 write_synthetic_ntu)
from plot_curves import plot_curves  # noqa: E402
from plot_features import plot_features  # noqa: E402

PRETRAIN_CONFIG = REPO / 'configs/gfp/gfp_synthetic_xsub.py'
LINEAR_CONFIG = REPO / 'configs/gfp/linear_synthetic_xsub.py'
RETRIEVAL_CONFIG = REPO / 'configs/gfp/retrieval_synthetic_xsub.py'

# Dataset size and schedules of the full demo and of --quick.
SETTINGS = {
    'full': dict(data=dict(subjects=8, views=3, reps=2), pretrain_epochs=None,
                 linear_epochs=None),
    'quick': dict(data=dict(subjects=4, views=2, reps=1), pretrain_epochs=2,
                  linear_epochs=2),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo', help='where everything goes')
    parser.add_argument('--quick', action='store_true',
                        help='small dataset and short schedules (same code path)')
    parser.add_argument('--seed', type=int, default=0, help='seed of data and training')
    return parser.parse_args(argv)


def run_tool(name: str, tool: str, args: list) -> float:
    """Run ``tools/<tool>`` with ``args``; return its wall time in seconds."""
    command = [sys.executable, str(REPO / 'tools' / tool), *map(str, args)]
    print(f'\n=== {name}: {" ".join(command[1:])}', flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO)
    if result.returncode != 0:
        sys.exit(f'demo: stage "{name}" failed (exit code {result.returncode})')
    return time.perf_counter() - start


def last_checkpoint(work_dir: Path) -> Path:
    """The checkpoint MMEngine's CheckpointHook recorded last."""
    pointer = work_dir / 'last_checkpoint'
    if not pointer.is_file():
        sys.exit(f'demo: no checkpoint was written in {work_dir}')
    return Path(pointer.read_text().strip())


def final_metrics(work_dir: Path, key: str) -> dict:
    """The last metrics holding ``key`` that MMEngine logged in ``work_dir``: training
    runs log them to ``vis_data/scalars.json``, test runs to ``<timestamp>.json``."""
    logs = sorted(work_dir.glob('*/vis_data/scalars.json')) + sorted(
        work_dir.glob('*/[0-9]*.json'))
    metrics = {}
    for log in logs:
        for line in log.read_text().splitlines():
            record = json.loads(line)
            if key in record:
                metrics = record
    if not metrics:
        sys.exit(f'demo: no "{key}" logged under {work_dir}')
    return metrics


def main(argv=None):
    args = parse_args(argv)
    settings = SETTINGS['quick' if args.quick else 'full']
    work_dir = Path(args.work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)

    ann_file = work_dir / 'synthetic_ntu.pkl'
    if ann_file.is_file():
        print(f'demo: using the dataset already at {ann_file}')
    else:
        print(f'demo: generating the synthetic dataset at {ann_file}')
        write_synthetic_ntu(str(ann_file), seed=args.seed, **settings['data'])

    data_options = [f'{loader}.dataset.ann_file={ann_file}'
                    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    pretrain_options = data_options[:1]
    linear_options = list(data_options)
    if settings['pretrain_epochs']:
        pretrain_options += [f'train_cfg.max_epochs={settings["pretrain_epochs"]}',
                             f'default_hooks.checkpoint.interval={settings["pretrain_epochs"]}']
        linear_options += [f'train_cfg.max_epochs={settings["linear_epochs"]}',
                           f'train_cfg.val_interval={settings["linear_epochs"]}',
                           f'default_hooks.checkpoint.interval={settings["linear_epochs"]}']

    seed = ['--seed', args.seed]
    seconds = dict(pretrain=run_tool(
        'GFP pre-training', 'train.py',
        [PRETRAIN_CONFIG, '--work-dir', work_dir / 'pretrain', *seed, '--cfg-options',
         *pretrain_options]))
    checkpoint = last_checkpoint(work_dir / 'pretrain')

    rows = []
    for name, key in (('GFP pre-trained', 'gfp'), ('random weights', 'random')):
        init = (f'model.backbone.init_cfg.checkpoint={checkpoint}' if key == 'gfp'
                else 'model.backbone.init_cfg=None')
        linear_dir = work_dir / f'linear_{key}'
        linear_seconds = run_tool(
            f'linear probe, {name}', 'train.py',
            [LINEAR_CONFIG, '--work-dir', linear_dir, *seed, '--cfg-options',
             *linear_options, init])
        linear = final_metrics(linear_dir, 'acc/top1')
        # The random encoder is the one the linear probe kept frozen in its checkpoint.
        encoder = checkpoint if key == 'gfp' else last_checkpoint(linear_dir)
        retrieval_dir = work_dir / f'retrieval_{key}'
        retrieval_seconds = run_tool(
            f'retrieval, {name}', 'test.py',
            [RETRIEVAL_CONFIG, encoder, '--work-dir', retrieval_dir, '--cfg-options',
             f'test_dataloader.dataset.ann_file={ann_file}'])
        retrieval = final_metrics(retrieval_dir, 'retrieval/top1')
        features = work_dir / f'features_{key}.npz'
        run_tool(f'feature export, {name}', 'extract_features.py',
                 [LINEAR_CONFIG, encoder, '--split', 'xsub_val', '--out', features,
                  '--cfg-options', *data_options])
        rows.append(dict(encoder=name, linear_top1=linear['acc/top1'],
                         retrieval_top1=retrieval['retrieval/top1'],
                         linear_seconds=linear_seconds, retrieval_seconds=retrieval_seconds,
                         features=str(features)))

    curves = plot_curves([str(work_dir / 'pretrain')], str(work_dir / 'curves.png'))
    feature_map = plot_features([row['features'] for row in rows],
                                str(work_dir / 'features.png'),
                                titles=[row['encoder'] for row in rows],
                                class_names=list(SYNTHETIC_NTU_CLASSES))

    summary = dict(dataset=str(ann_file), pretrain_checkpoint=str(checkpoint),
                   pretrain_seconds=seconds['pretrain'], encoders=rows,
                   pictures=dict(curves=str(curves), features=str(feature_map)))
    (work_dir / 'summary.json').write_text(json.dumps(summary, indent=2))

    print('\nFrozen encoders on the synthetic cross-subject validation split')
    print(f'{"encoder":<18}{"linear top-1":>14}{"retrieval top-1":>17}{"probe time":>12}')
    for row in rows:
        print(f'{row["encoder"]:<18}{100 * row["linear_top1"]:>13.1f}%'
              f'{100 * row["retrieval_top1"]:>16.1f}%{row["linear_seconds"]:>11.0f}s')
    print(f'GFP pre-training: {seconds["pretrain"]:.0f}s')
    print(f'training curves: {curves}\nfeature map:     {feature_map}')
    print(f'everything is under {work_dir}')


if __name__ == '__main__':
    main()
