"""The one-command demo: GFP pre-training and linear evaluation on the embedded dataset.

    python tools/demo.py [--work-dir work_dirs/demo] [--quick]

1. generates the synthetic NTU-format skeleton dataset (tools/data/make_synthetic_ntu.py)
   into the work dir unless it is already there;
2. pre-trains GFP on its cross-subject training split (configs/gfp/gfp_synthetic_xsub.py);
3. trains a linear probe on the frozen pre-trained encoder, and on the same encoder with
   random weights (configs/gfp/linear_synthetic_xsub.py), and evaluates both on the
   cross-subject validation split;
4. prints a table: accuracy and training time of each.

Every stage runs the real configs through tools/train.py and MMEngine's runner; logs,
checkpoints and the summary (summary.json) land under the work dir. ``--quick`` is the
same path on a smaller dataset with short schedules (under two minutes).
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gfp_mmaction.datasets.synthetic_ntu import write_synthetic_ntu  # noqa: E402

PRETRAIN_CONFIG = REPO / 'configs/gfp/gfp_synthetic_xsub.py'
LINEAR_CONFIG = REPO / 'configs/gfp/linear_synthetic_xsub.py'

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


def run_stage(name: str, config: Path, work_dir: Path, options: list, seed: int) -> float:
    """Run ``tools/train.py`` on ``config``; return its wall time in seconds."""
    command = [sys.executable, str(REPO / 'tools/train.py'), str(config), '--work-dir',
               str(work_dir), '--seed', str(seed), '--cfg-options', *options]
    print(f'\n=== {name}: {" ".join(command[1:])}', flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO)
    if result.returncode != 0:
        sys.exit(f'demo: stage "{name}" failed (exit code {result.returncode}); its log is '
                 f'under {work_dir}')
    return time.perf_counter() - start


def last_checkpoint(work_dir: Path) -> Path:
    """The checkpoint MMEngine's CheckpointHook recorded last."""
    pointer = work_dir / 'last_checkpoint'
    if not pointer.is_file():
        sys.exit(f'demo: no checkpoint was written in {work_dir}')
    return Path(pointer.read_text().strip())


def final_metrics(work_dir: Path) -> dict:
    """The last validation metrics in the run's scalar log."""
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not logs:
        sys.exit(f'demo: no scalar log under {work_dir}')
    metrics = {}
    for line in logs[-1].read_text().splitlines():
        record = json.loads(line)
        if 'acc/top1' in record:
            metrics = record
    if not metrics:
        sys.exit(f'demo: {logs[-1]} holds no validation accuracy')
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

    times = {}
    times['pretrain'] = run_stage('GFP pre-training', PRETRAIN_CONFIG, work_dir / 'pretrain',
                                  pretrain_options, args.seed)
    checkpoint = last_checkpoint(work_dir / 'pretrain')

    rows = []
    for name, init in (('GFP pre-trained', f'model.backbone.init_cfg.checkpoint={checkpoint}'),
                       ('random weights', 'model.backbone.init_cfg=None')):
        stage_dir = work_dir / ('linear_gfp' if name.startswith('GFP') else 'linear_random')
        seconds = run_stage(f'linear probe, {name}', LINEAR_CONFIG, stage_dir,
                            linear_options + [init], args.seed)
        metrics = final_metrics(stage_dir)
        rows.append(dict(encoder=name, top1=metrics['acc/top1'], top5=metrics['acc/top5'],
                         mean_class=metrics['acc/mean1'], seconds=seconds))

    summary = dict(dataset=str(ann_file), pretrain_checkpoint=str(checkpoint),
                   pretrain_seconds=times['pretrain'], linear_probe=rows)
    (work_dir / 'summary.json').write_text(json.dumps(summary, indent=2))

    print('\nLinear evaluation on the synthetic cross-subject validation split')
    print(f'{"encoder":<18}{"top-1":>8}{"top-5":>8}{"mean-class":>12}{"train time":>12}')
    for row in rows:
        print(f'{row["encoder"]:<18}{100 * row["top1"]:>7.1f}%{100 * row["top5"]:>7.1f}%'
              f'{100 * row["mean_class"]:>11.1f}%{row["seconds"]:>11.0f}s')
    print(f'GFP pre-training: {times["pretrain"]:.0f}s; everything is under {work_dir}')


if __name__ == '__main__':
    main()
