"""Train a model with MMEngine's runner (any MMAction2 config, or gfp-mmaction's).

    python tools/train.py configs/gfp/gfp_ntu60_xsub.py [--work-dir DIR] [--resume [CKPT]]
        [--amp [--amp-dtype float16]] [--compile [MODE]] [--auto-scale-lr] [--seed N]
        [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import os
import os.path as osp
import sys
from pathlib import Path

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes before any build)
from gfp_mmaction.datasets import AnnotationError  # noqa: E402
from gfp_mmaction.engine.hooks import NonFiniteLossError  # noqa: E402
from gfp_mmaction.engine.preflight import (ConfigError, ResumeMismatchError,  # noqa: E402
                                           WorkDirError, check_pipelines, check_resume,
                                           check_work_dir, propagate_num_classes,
                                           resume_checkpoint)
from gfp_mmaction.utils import MissingDataError, check_annotation_files  # noqa: E402

# Errors whose message says everything: printed without a traceback (docs/robustness.md).
CLEAR_ERRORS = (ConfigError, WorkDirError, ResumeMismatchError, AnnotationError,
                NonFiniteLossError)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the work dir '
        'when no path is given (checkpoints are unpickled: only load files you trust)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: bfloat16 autocast, no loss scaler (GPU or CPU)')
    parser.add_argument('--amp-dtype', choices=['bfloat16', 'float16'], default='bfloat16',
                        help='with --amp: float16 uses MMEngine\'s AmpOptimWrapper with '
                        'dynamic loss scaling (GPU only; the scaler reads a value on the '
                        'host every step)')
    parser.add_argument('--compile', nargs='?', const='default', default=None,
                        metavar='MODE',
                        help='torch.compile the training step through MMEngine\'s runner '
                        '(the config key `compile`); MODE is torch.compile\'s mode: '
                        'default, reduce-overhead, max-autotune')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch size / auto_scale_lr.base_batch_size')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--diff-rank-seed', action='store_true',
                        help='a different seed on every rank')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (slower)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. train_dataloader.batch_size=32')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Fold the command-line flags into the config, as MMAction2's train.py does."""
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AutocastOptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs OptimWrapper, AutocastOptimWrapper or '
                             f'AmpOptimWrapper, not {wrapper}')
        cfg.optim_wrapper.pop('loss_scale', None)
        if args.amp_dtype == 'bfloat16':
            cfg.optim_wrapper.type = 'AutocastOptimWrapper'
            cfg.optim_wrapper.dtype = 'bfloat16'
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.update(dtype='float16', loss_scale='dynamic')
    if args.compile is not None:
        cfg.compile = dict() if args.compile == 'default' else dict(mode=args.compile)
    use_fused_adamw(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    randomness = dict(cfg.get('randomness') or dict(seed=None))
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    return cfg


def use_fused_adamw(cfg) -> None:
    """On CUDA, Adam / AdamW update in a few fused kernels (``fused=True``) unless the
    config says otherwise."""
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    if torch.cuda.is_available() and optimizer.get('type') in ('Adam', 'AdamW') \
            and 'fused' not in optimizer and 'foreach' not in optimizer:
        optimizer['fused'] = True


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg = merge_args(cfg, args)
    try:
        check_annotation_files(cfg, args.config)
    except MissingDataError as error:
        sys.exit(f'error: {error}')
    # Fail now, not after the first epoch: pipelines (transform names and arguments,
    # clip / patch lengths), label range, work dir, and what --resume would load.
    check_pipelines(cfg, args.config)
    propagate_num_classes(cfg)
    check_work_dir(cfg.work_dir)
    runner = Runner.from_cfg(cfg)  # builds the model: its own argument checks run here
    checkpoint = resume_checkpoint(cfg)
    if checkpoint is not None:
        check_resume(runner.model, checkpoint, args.config)
    runner.train()  # builds the datasets (validated at load) before the first iteration


if __name__ == '__main__':
    try:
        main()
    except CLEAR_ERRORS as error:
        sys.exit(f'error: {error}')
