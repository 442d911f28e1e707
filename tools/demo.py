"""The one-command demo: GFP pre-training and evaluation on the embedded dataset.

    python tools/demo.py [--quick] [--per-sample] [--seed N] [--work-dir DIR]

1. generates the synthetic NTU-format skeleton dataset (tools/data/make_synthetic_ntu.py)
   into the work dir, or reuses the one a run with the same settings left there;
2. pre-trains GFP on its cross-subject training split (configs/gfp/gfp_synthetic_xsub.py);
3. evaluates the frozen pre-trained encoder and the same encoder with random weights on
   the cross-subject validation split: a linear probe (configs/gfp/linear_synthetic_xsub.py)
   and nearest-neighbour retrieval (configs/gfp/retrieval_synthetic_xsub.py);
4. draws the training curves and a 2-D map of both encoders' features;
5. prints a table: accuracy and time of each.

Every stage runs the real configs through tools/train.py, tools/test.py and
tools/extract_features.py with MMEngine's runner; logs, checkpoints, pictures and the
summary (summary.json) land under the work dir. ``--quick`` is the same path on a smaller
dataset with short schedules (under two minutes). ``--per-sample`` pre-trains through the
per-sample numpy path instead of the batched one (the config rewritten by
``gfp_mmaction.datasets.per_sample_config``, saved in the work dir), so that the two paths
can be compared with the same seed.

Each combination of settings has its own default work dir: ``work_dirs/demo``,
``work_dirs/demo_quick``, ``work_dirs/demo_per_sample``, ``work_dirs/demo_quick_per_sample``
(``_seed<N>`` appended for a seed other than 0). The settings are recorded in the work dir
(``demo_settings.json``) before anything else is written there, and a run refuses a work
dir recorded with other settings, or holding files without a record: data and checkpoints
of one kind of run are never taken for another's.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gfp_mmaction.testing.synthetic import SYNTHETIC_NTU_CLASSES, write_synthetic_ntu  # noqa: E402
from gfp_mmaction.utils import atomic_write  # noqa: E402
from gfp_mmaction.visualization import plot_curves, plot_features  # noqa: E402

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
SETTINGS_FILE = 'demo_settings.json'
PATHS = dict(batched='batched (SkeletonClipDataset + SkeletonPretrainPreprocessor)',
             per_sample='per-sample numpy transforms (per_sample_config)')


class WorkDirMismatch(Exception):
    """The work dir holds another demo run's data and checkpoints."""


def demo_settings(quick: bool, per_sample: bool, seed: int) -> dict:
    """Everything that decides the demo's data and checkpoints (what
    ``demo_settings.json`` records).

    Args:
        quick (bool): the small dataset and short schedules.
        per_sample (bool): pre-training through the per-sample numpy path.
        seed (int): seed of the dataset and of every training run.

    Returns:
        dict: JSON-serialisable settings.
    """
    mode = 'quick' if quick else 'full'
    return dict(mode=mode, **SETTINGS[mode], seed=seed,
                pretrain_path='per_sample' if per_sample else 'batched')


def default_work_dir(settings: dict) -> Path:
    """``work_dirs/demo[_quick][_per_sample][_seed<N>]``: one per settings."""
    name = 'demo' + ('_quick' if settings['mode'] == 'quick' else '') + \
        ('_per_sample' if settings['pretrain_path'] == 'per_sample' else '') + \
        (f'_seed{settings["seed"]}' if settings['seed'] else '')
    return Path('work_dirs') / name


def claim_work_dir(work_dir: Path, settings: dict) -> bool:
    """Make ``work_dir`` this run's, or refuse it.

    A new or empty folder gets ``demo_settings.json`` (written atomically, before the
    dataset). A folder whose record holds ``settings`` is reused: its dataset is read
    again, every stage runs again. Anything else is refused.

    Args:
        work_dir (Path): the demo's work dir.
        settings (dict): :func:`demo_settings` of this run.

    Returns:
        bool: whether ``work_dir`` already held a run with these settings.

    Raises:
        WorkDirMismatch: the record holds other settings (the message lists each one that
            differs), the record cannot be read, or the folder holds files but no record
            (e.g. a run of a demo older than the record).
    """
    record = work_dir / SETTINGS_FILE
    advice = (f'Use another --work-dir (the default for this run is '
              f'{default_work_dir(settings)}), or delete {work_dir} to start it anew.')
    if record.is_file():
        try:
            recorded = json.loads(record.read_text())
        except (OSError, ValueError) as error:
            raise WorkDirMismatch(f'demo: {record}: cannot be read ({error}), so the data '
                                  f'and checkpoints in {work_dir} are of unknown settings. '
                                  f'{advice}') from error
        if recorded == settings:
            return True
        keys = sorted(set(recorded) | set(settings),
                      key=lambda k: list(settings).index(k) if k in settings else len(settings))
        lines = [f'  {k}: recorded {recorded.get(k)!r}, this run {settings.get(k)!r}'
                 for k in keys if recorded.get(k) != settings.get(k)]
        raise WorkDirMismatch(
            f'demo: {work_dir} holds a demo run with other settings ({record}), so its data '
            'and checkpoints are not this run\'s:\n' + '\n'.join(lines) + f'\n{advice}')
    if work_dir.is_dir() and any(work_dir.iterdir()):
        raise WorkDirMismatch(
            f'demo: {work_dir} holds files but no {SETTINGS_FILE}: they may be another run\'s '
            f'(or an older demo\'s), and would be mixed with this one. {advice}')
    atomic_write(record, json.dumps(settings, indent=2) + '\n', fsync=False)
    return False


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=None,
                        help='where everything goes (default: work_dirs/demo, with _quick, '
                        '_per_sample and _seed<N> appended for those settings)')
    parser.add_argument('--quick', action='store_true',
                        help='small dataset and short schedules (same code path)')
    parser.add_argument('--per-sample', action='store_true',
                        help='pre-train through the per-sample numpy transforms instead of '
                        'the batched data preprocessor (to compare the two with one seed)')
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


def per_sample_pretrain_config(work_dir: Path) -> Path:
    """The pre-training config on the per-sample numpy path (``per_sample_config`` of
    the batched one), saved as ``work_dir/gfp_synthetic_xsub_per_sample.py``."""
    from mmengine.config import Config

    from gfp_mmaction.datasets import per_sample_config
    path = work_dir / PRETRAIN_CONFIG.name.replace('.py', '_per_sample.py')
    per_sample_config(Config.fromfile(str(PRETRAIN_CONFIG))).dump(str(path))
    return path


def main(argv=None):
    args = parse_args(argv)
    settings = demo_settings(args.quick, args.per_sample, args.seed)
    work_dir = Path(args.work_dir or default_work_dir(settings)).resolve()
    try:
        reused = claim_work_dir(work_dir, settings)
    except WorkDirMismatch as error:
        sys.exit(str(error))

    ann_file = work_dir / 'synthetic_ntu.pkl'
    if reused and ann_file.is_file():
        print(f'demo: using the dataset a run with the same settings left at {ann_file}')
    else:
        print(f'demo: generating the synthetic dataset at {ann_file}')
        write_synthetic_ntu(str(ann_file), seed=args.seed, **settings['data'])
    pretrain_config = PRETRAIN_CONFIG
    if args.per_sample:
        pretrain_config = per_sample_pretrain_config(work_dir)
        print(f'demo: pre-training on the per-sample path: {pretrain_config}')

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
        [pretrain_config, '--work-dir', work_dir / 'pretrain', *seed, '--cfg-options',
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

    summary = dict(settings=settings, pretrain_config=str(pretrain_config),
                   dataset=str(ann_file), pretrain_checkpoint=str(checkpoint),
                   pretrain_seconds=seconds['pretrain'], encoders=rows,
                   pictures=dict(curves=str(curves), features=str(feature_map)))
    (work_dir / 'summary.json').write_text(json.dumps(summary, indent=2))

    print('\nFrozen encoders on the synthetic cross-subject validation split')
    print(f'{"encoder":<18}{"linear top-1":>14}{"retrieval top-1":>17}{"probe time":>12}')
    for row in rows:
        print(f'{row["encoder"]:<18}{100 * row["linear_top1"]:>13.1f}%'
              f'{100 * row["retrieval_top1"]:>16.1f}%{row["linear_seconds"]:>11.0f}s')
    print(f'GFP pre-training: {seconds["pretrain"]:.0f}s, '
          f'{PATHS[settings["pretrain_path"]]} path, seed {args.seed}')
    print(f'training curves: {curves}\nfeature map:     {feature_map}')
    print(f'everything is under {work_dir}')


if __name__ == '__main__':
    main()
