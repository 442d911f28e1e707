"""Pre-train GFP variants and baselines on the synthetic ``temporal`` preset, probe the
frozen encoders and tabulate accuracy (mean and std over seeds).

    python tools/analysis/run_ablations.py run VARIANT [VARIANT ...] --seeds 0 1 2 \\
        [--work-dir work_dirs/ablations] [--epochs 40]
    python tools/analysis/run_ablations.py table [--work-dir work_dirs/ablations]
    python tools/analysis/run_ablations.py list

Every run goes through the real tools: ``tools/train.py`` pre-trains the variant's config
(``configs/gfp/gfp_synthetic_temporal_xsub.py`` with the variant's ``--cfg-options``) with
``--seed``; ``tools/extract_features.py`` exports the frozen encoder's pooled features of
the cross-subject training and validation splits; then a logistic-regression linear probe
and 1-nearest-neighbour retrieval (cosine, validation queries against the training
gallery) score them (:mod:`gfp_mmaction.evaluation.frozen_probe`).

Two references need no pre-training: ``random`` (the same encoder with the seed's random
initial weights) and ``motion_energy`` (the temporal std of every joint coordinate, no
network). ``mamp`` trains the MAMP baseline for the wall time that GFP's default took on
the same seed (its epochs scaled by the measured ratio of iteration times).

Each finished run appends one line to ``WORK_DIR/results.jsonl`` (variant, seed, both
accuracies, training time, iterations and the exact commands); a run already there is
skipped, so an interrupted batch resumes where it stopped. The annotation file is made
by the project's generator on first use.
"""
import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from gfp_mmaction.evaluation.frozen_probe import linear_probe_accuracy, motion_energy_features  # noqa: E402
from gfp_mmaction.evaluation.retrieval_metric import nearest_neighbour_accuracy  # noqa: E402
from gfp_mmaction.utils import atomic_write  # noqa: E402

GFP_CONFIG = 'configs/gfp/gfp_synthetic_temporal_xsub.py'
MAMP_CONFIG = 'configs/mamp/mamp_synthetic_temporal_xsub.py'
PROBE_CONFIG = 'configs/gfp/linear_synthetic_temporal_xsub.py'
ANN_FILE = 'data/skeleton/synthetic_temporal.pkl'
SPLITS = ('xsub_train', 'xsub_val')
TGN = 'model.target_generator.'

# name: (config, --cfg-options, what it changes); None config = no pre-training.
VARIANTS = {
    'gfp': (GFP_CONFIG, [], 'GFP as configured: TGN with LayerNorm, pool then MLP, motion '
                            'input; joint training; mean + MLP global token; decoder 1 / 1 / 1'),
    'tgn_norm_none': (GFP_CONFIG, [TGN + 'norm=none'], 'TGN hidden layers: no norm'),
    'tgn_norm_bn': (GFP_CONFIG, [TGN + 'norm=BN'], 'TGN hidden layers: BatchNorm'),
    'tgn_mlp_pool': (GFP_CONFIG, [TGN + 'pooling=mlp_pool'],
                     'TGN: MLP per motion patch, then pool'),
    'tgn_concat': (GFP_CONFIG, [TGN + 'pooling=concat'],
                   "TGN: the window's motion patches concatenated, then the MLP"),
    'tgn_input_joints': (GFP_CONFIG, [TGN + 'source=joints'],
                         'TGN input: joint positions instead of motion'),
    'stop_grad': (GFP_CONFIG, ['model.head.stop_grad_targets=True'],
                  'stop-gradient targets (the TGN trains only through L_var / L_cov)'),
    'global_query': (GFP_CONFIG, ['model.neck.global_token=query'],
                     'global token: a learned query instead of mean + MLP'),
    'decoder_211': (GFP_CONFIG, ['model.neck.depths=(2,1,1)'], 'decoder depths 2 / 1 / 1'),
    'decoder_222': (GFP_CONFIG, ['model.neck.depths=(2,2,2)'], 'decoder depths 2 / 2 / 2'),
    'mamp': (MAMP_CONFIG, [], 'MAMP baseline, same wall time as gfp'),
    'random': (None, [], 'the encoder with random weights'),
    'motion_energy': (None, [], 'temporal std of every joint coordinate (no network)'),
}


def run(cmd, log: Path) -> float:
    """Run ``cmd`` in the repository, its output to ``log``; seconds taken."""
    start = time.time()
    with open(log, 'w') as out:
        code = subprocess.call([str(c) for c in cmd], cwd=REPO, stdout=out,
                               stderr=subprocess.STDOUT)
    if code:
        sys.exit(f'run_ablations: {" ".join(map(str, cmd))} failed ({code}); see {log}')
    return time.time() - start


def load_results(work_dir: Path) -> list:
    path = work_dir / 'results.jsonl'
    return [json.loads(line) for line in path.read_text().splitlines()] \
        if path.exists() else []


def save_result(work_dir: Path, record: dict) -> None:
    """Append ``record`` to ``results.jsonl`` (atomically; under a lock, so that batches
    run side by side into one work dir keep every record)."""
    with open(work_dir / 'results.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = [json.dumps(r) for r in load_results(work_dir) + [record]]
        atomic_write(work_dir / 'results.jsonl', '\n'.join(lines) + '\n')


def pretrain(variant: str, seed: int, run_dir: Path, epochs: int, work_dir: Path) -> dict:
    config, options, _ = VARIANTS[variant]
    if variant == 'mamp':
        epochs = mamp_epochs(work_dir, seed, epochs)
    options = options + [f'train_cfg.max_epochs={epochs}',
                         f'param_scheduler.1.T_max={epochs - 2}',
                         f'param_scheduler.1.end={epochs}',
                         f'default_hooks.checkpoint.interval={epochs}',
                         f'train_dataloader.dataset.ann_file={ANN_FILE}']
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', run_dir, '--seed', seed,
           '--cfg-options', *options]
    seconds = run(cmd, run_dir / 'train.out')
    ckpt = run_dir / f'epoch_{epochs}.pth'
    return dict(checkpoint=ckpt, train_seconds=round(seconds, 1), epochs=epochs,
                iterations=epochs * iterations_per_epoch(),
                train_command=' '.join(map(str, cmd)))


def iterations_per_epoch(batch_size: int = 32) -> int:
    import pickle
    with open(REPO / ANN_FILE, 'rb') as f:
        return len(pickle.load(f)['split']['xsub_train']) // batch_size  # drop_last


def mamp_epochs(work_dir: Path, seed: int, gfp_epochs: int) -> int:
    """MAMP's epochs for the wall time of GFP's run of the same seed."""
    gfp = [r for r in load_results(work_dir) if r['variant'] == 'gfp' and r['seed'] == seed]
    if not gfp:
        sys.exit(f'run_ablations: mamp seed {seed} needs the gfp run of that seed first '
                 '(its wall time sets the budget)')
    ratio = time_ratio(work_dir)
    return max(3, int(round(gfp[0]['epochs'] * ratio)))


def time_ratio(work_dir: Path) -> float:
    """GFP's time per iteration over MAMP's, measured once side by side (3 alternating
    short runs each) and kept in ``WORK_DIR/time_ratio.json``."""
    path = work_dir / 'time_ratio.json'
    if path.exists():
        return json.loads(path.read_text())['gfp_over_mamp']
    times = defaultdict(list)
    for k in range(3):
        for name, config in (('gfp', GFP_CONFIG), ('mamp', MAMP_CONFIG)):
            out = work_dir / 'timing' / f'{name}{k}'
            out.mkdir(parents=True, exist_ok=True)
            seconds = run([sys.executable, 'tools/train.py', config, '--work-dir', out,
                           '--seed', 0, '--cfg-options', 'train_cfg.max_epochs=2',
                           'default_hooks.checkpoint.interval=100',
                           f'train_dataloader.dataset.ann_file={ANN_FILE}'],
                          out / 'train.out')
            times[name].append(seconds)
    ratio = float(np.median(times['gfp']) / np.median(times['mamp']))
    atomic_write(path, json.dumps(dict(gfp_over_mamp=ratio, seconds=times), indent=1))
    return ratio


def random_checkpoint(seed: int, run_dir: Path) -> Path:
    """The pre-training model of ``GFP_CONFIG`` with the seed's initial weights."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import set_random_seed

    from gfp_mmaction.utils import model_config  # gfp_mmaction (and its fixes) loaded above
    init_default_scope('mmaction')
    set_random_seed(seed)
    model = MODELS.build(model_config(Config.fromfile(REPO / GFP_CONFIG)))
    model.init_weights()
    path = run_dir / 'random_init.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(seed=seed)), path)
    return path


def encoder_scores(checkpoint: Path, run_dir: Path) -> dict:
    data = {}
    for split in SPLITS:
        out = run_dir / f'features_{split}.npz'
        run([sys.executable, 'tools/extract_features.py', PROBE_CONFIG, checkpoint,
             '--split', split, '--out', out, '--cfg-options',
             f'test_dataloader.dataset.ann_file={ANN_FILE}'], run_dir / f'extract_{split}.out')
        npz = np.load(out)
        data[split] = (npz['features'], npz['labels'])
    return scores(data)


def motion_energy_scores() -> dict:
    import pickle
    with open(REPO / ANN_FILE, 'rb') as f:
        ann = pickle.load(f)
    by_name = {a['frame_dir']: a for a in ann['annotations']}
    data = {}
    for split in SPLITS:
        clips = [by_name[n] for n in ann['split'][split]]
        data[split] = (np.stack([motion_energy_features(c['keypoint']) for c in clips]),
                       np.array([c['label'] for c in clips]))
    return scores(data)


def scores(data: dict) -> dict:
    (tx, ty), (vx, vy) = data['xsub_train'], data['xsub_val']
    linear = linear_probe_accuracy(tx, ty, vx, vy)
    knn = nearest_neighbour_accuracy(vx, vy, tx, ty, topk=(1, ))
    return dict(linear=100 * linear['top1'], linear_l2=linear['l2'], knn=100 * knn['top1'])


def ensure_data() -> None:
    if (REPO / ANN_FILE).exists():
        return
    from gfp_mmaction.testing.synthetic.temporal import write_synthetic_temporal
    write_synthetic_temporal(str(REPO / ANN_FILE))


def run_variants(args) -> None:
    ensure_data()
    work_dir = Path(args.work_dir)
    for variant in args.variants:
        for seed in args.seeds:
            if any(r['variant'] == variant and r['seed'] == seed
                   for r in load_results(work_dir)):
                continue
            run_dir = work_dir / variant / f'seed{seed}'
            run_dir.mkdir(parents=True, exist_ok=True)
            record = dict(variant=variant, seed=seed)
            if variant == 'motion_energy':
                record.update(motion_energy_scores())
            elif variant == 'random':
                record.update(encoder_scores(random_checkpoint(seed, run_dir), run_dir))
            else:
                trained = pretrain(variant, seed, run_dir, args.epochs, work_dir)
                record.update(encoder_scores(trained.pop('checkpoint'), run_dir), **trained)
            save_result(work_dir, record)
            print(json.dumps(record), flush=True)


def mean_std(values) -> str:
    """``mean ± sample std`` to one decimal (std 0.0 for a single value)."""
    x = np.asarray(values, dtype=float)
    return f'{x.mean():.1f} ± {x.std(ddof=1) if len(x) > 1 else 0.0:.1f}'


def table(work_dir: Path, reference: str = 'gfp') -> str:
    """Markdown table: every variant's mean ± std (over seeds) of both accuracies, and its
    difference to ``reference`` paired by seed (a seed fixes the initial weights, the data
    order, the augmentation and the masking of every variant alike)."""
    runs = defaultdict(dict)
    for r in load_results(work_dir):
        runs[r['variant']][r['seed']] = r
    rows = ['| variant | what changes | seeds | linear probe (%) | 1-NN (%) | '
            f'linear − {reference}, same seeds | 1-NN − {reference}, same seeds | '
            'per seed: linear / 1-NN | pre-training (s) |', '|---' * 9 + '|']
    base = runs.get(reference, {})
    for name in [v for v in VARIANTS if v in runs]:
        by_seed = runs[name]
        seeds = sorted(by_seed)
        rs = [by_seed[seed] for seed in seeds]
        paired = [seed for seed in seeds if seed in base]
        if name == reference or not paired:
            diffs = ['-', '-']
        else:
            diffs = [mean_std([by_seed[s][key] - base[s][key] for s in paired])
                     for key in ('linear', 'knn')]
        per_seed = ', '.join(f'{r["linear"]:.1f} / {r["knn"]:.1f}' for r in rs)
        seconds = mean_std([r['train_seconds'] for r in rs]) if 'train_seconds' in rs[0] \
            else '-'
        rows.append(f'| {name} | {VARIANTS[name][2]} | {len(rs)} '
                    f'({", ".join(map(str, seeds))}) | {mean_std([r["linear"] for r in rs])} | '
                    f'{mean_std([r["knn"] for r in rs])} | {diffs[0]} | {diffs[1]} | '
                    f'{per_seed} | {seconds} |')
    return '\n'.join(rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    go = sub.add_parser('run', help='run variants (skips finished ones)')
    go.add_argument('variants', nargs='+', choices=list(VARIANTS))
    go.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    go.add_argument('--epochs', type=int, default=40, help='GFP pre-training epochs')
    for p in (go, sub.add_parser('table', help='print the results table')):
        p.add_argument('--work-dir', default=str(REPO / 'work_dirs' / 'ablations'))
    sub.add_parser('list', help='list the variants')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.chdir(REPO)
    if args.command == 'list':
        for name, (_, options, what) in VARIANTS.items():
            print(f'{name:18s} {what}  {" ".join(options)}')
    elif args.command == 'table':
        print(table(Path(args.work_dir)))
    else:
        run_variants(args)


if __name__ == '__main__':
    main()
