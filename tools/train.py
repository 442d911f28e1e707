"""Train a model with MMEngine's runner (any MMAction2 config, or gfp-mmaction's).

    python tools/train.py configs/gfp/gfp_ntu60_xsub.py [--work-dir DIR] [--resume [CKPT]]
        [--amp [--amp-dtype float16]] [--compile [MODE]] [--auto-scale-lr] [--seed N]
        [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import contextlib
import os
import os.path as osp
import re
import signal
import sys
from pathlib import Path
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner, find_latest_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes before any build)
from gfp_mmaction.compat import UntrustedCheckpointError, distributed_timeout, end_distributed  # noqa: E402
from gfp_mmaction.datasets import AnnotationError  # noqa: E402
from gfp_mmaction.engine.atomic_backend import DiskFullError  # noqa: E402
from gfp_mmaction.engine.hooks import NonFiniteLossError  # noqa: E402
from gfp_mmaction.engine.preflight import (  # noqa: E402
    ConfigError,
    ResumeMismatchError,
    WorkDirError,
    check_pipelines,
    check_resume,
    check_work_dir,
    propagate_num_classes,
    resume_checkpoint,
)
from gfp_mmaction.engine.run_lock import WorkDirLock, WorkDirLockedError, launcher_rank  # noqa: E402
from gfp_mmaction.utils import MissingDataError, check_annotation_files  # noqa: E402
from gfp_mmaction.utils.cli_args import add_cfg_options, parse_args_with_launcher  # noqa: E402


class DataLoaderWorkerError(RuntimeError):
    """A data-loader worker process died during training (killed by a signal, or it
    exited)."""


class DistributedRunError(RuntimeError):
    """A collective operation with the other processes of a distributed run failed:
    one of them died or stopped responding."""


# Errors whose message says everything: printed without a traceback (docs/robustness.md).
CLEAR_ERRORS = (ConfigError, WorkDirError, ResumeMismatchError, AnnotationError,
                NonFiniteLossError, UntrustedCheckpointError, DiskFullError,
                WorkDirLockedError, DataLoaderWorkerError, DistributedRunError)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the work dir '
        'when no path is given. Checkpoints load with weights_only=True and an allowlist '
        'of what MMEngine checkpoints hold; a file holding anything else is refused '
        'unless GFP_TRUST_CHECKPOINTS=1 (trusted files only; docs/robustness.md)')
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
    add_cfg_options(parser, 'train_dataloader.batch_size=32')
    return parse_args_with_launcher(parser, argv)


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


# torch's messages for a dead worker (torch/utils/data: the SIGCHLD handler and the
# loader's liveness check).
_WORKER_DIED = re.compile(
    r'DataLoader worker \(pid(?:\(s\))? (?P<pids>[\d, ]+)\) (?:is killed by signal: '
    r'(?P<signal>[^.]+)|exited unexpectedly(?: with exit code (?P<code>-?\d+))?)')
_SIGNAL_NAMES = {signal.strsignal(s): s.name for s in signal.Signals
                 if signal.strsignal(s)}
_SIGNAL_HINTS = dict(
    SIGKILL='A SIGKILL that nobody sent is usually the kernel\'s out-of-memory killer (see '
    '`dmesg`): fewer workers (train_dataloader.num_workers) or a smaller batch need less '
    'host memory.',
    SIGBUS='A SIGBUS in a worker is usually a full shared-memory file system (/dev/shm): '
    'enlarge it (e.g. docker --shm-size) or use fewer workers.')


def _position(runner) -> str:
    """``in epoch 2, iteration 3``: where training was (1-based), as the runner's message
    hub last recorded it."""
    hub = getattr(runner, 'message_hub', None)
    epoch = hub.get_info('epoch') if hub is not None else None
    iteration = hub.get_info('iter') if hub is not None else None
    if epoch is None or iteration is None:
        return 'before training started'
    return f'in epoch {epoch + 1}, iteration {iteration + 1}'


def _kept(work_dir: str) -> str:
    last = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) else None
    if last is None:
        return 'no checkpoint had been written yet'
    return f'the last checkpoint, {last}, is intact and --resume continues from it'


def worker_death(error: BaseException, runner, work_dir: str
                 ) -> Optional[DataLoaderWorkerError]:
    """The :class:`DataLoaderWorkerError` that ``error`` means, if it is torch's report of
    a dead data-loader worker; else None."""
    match = _WORKER_DIED.search(str(error))
    if match is None:
        return None
    pids = match.group('pids').strip().rstrip(',')
    who = f'DataLoader worker (pid{"s" if "," in pids else ""} {pids})'
    if match.group('signal'):
        text = match.group('signal').strip()
        name = _SIGNAL_NAMES.get(text, 'a signal')
        how = f'was killed by {name} ({text})'
        hint = _SIGNAL_HINTS.get(name, '')
    else:
        code = match.group('code')
        how = 'exited unexpectedly' + (f' with exit code {code}' if code else '')
        hint = ('Its details are lost with the worker process: with '
                'train_dataloader.num_workers=0 the data loading runs in this process '
                'and reports them.')
    return DataLoaderWorkerError(
        f'{who} {how} {_position(runner)}: training stopped; {_kept(work_dir)}.'
        + (f'\n{hint}' if hint else ''))


def _backend_reason(text: str) -> str:
    """The first line of a backend's error without its source location and boilerplate."""
    line = text.strip().splitlines()[0] if text.strip() else text
    line = re.sub(r'^\[[^\]]*\]\s*', '', line)
    return line.split(' This is typically caused by', 1)[0].strip()


def collective_failure(error: BaseException, cfg) -> Optional[DistributedRunError]:
    """The :class:`DistributedRunError` that ``error`` means, if it is a failed collective
    (or rendezvous) of a distributed run; else None."""
    import torch.distributed as dist
    world_size = int(os.environ.get('WORLD_SIZE', 1))
    if dist.is_available() and dist.is_initialized():
        world_size = dist.get_world_size()
    if world_size < 2 or not (
            isinstance(error, getattr(dist, 'DistError', ())) or
            re.search(r'gloo|nccl|ProcessGroup|c10d', str(error), re.IGNORECASE)):
        return None
    rank = dist.get_rank() if dist.is_initialized() else int(os.environ.get('RANK', 0))
    timeout = distributed_timeout((cfg.get('env_cfg') or {}).get('dist_cfg'))
    return DistributedRunError(
        f'rank {rank} of {world_size} lost the other processes of the distributed run: '
        f'{_backend_reason(str(error))}\n'
        'Another process of the run died or stopped responding (killed, out of memory, '
        'or its machine failed): see its log. Training stopped; '
        f'{_kept(cfg.work_dir)} (restart every process). A process waits {timeout:g} s '
        'for the others before it gives up: env_cfg.dist_cfg.timeout in the config, or '
        'GFP_DIST_TIMEOUT=SECONDS in the environment.')


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
    # One run per work dir: a second one stops here, naming the first (the process of
    # global rank 0 holds the lock for a distributed run).
    lock = None
    if launcher_rank(args.launcher) == 0 and '://' not in str(cfg.work_dir):
        lock = WorkDirLock(cfg.work_dir)
    runner = None
    with lock if lock is not None else contextlib.nullcontext():
        try:
            runner = Runner.from_cfg(cfg)  # builds the model: its own argument checks
            if lock is not None and lock.taken_over:
                runner.logger.warning(lock.takeover_message())
            checkpoint = resume_checkpoint(cfg)
            if checkpoint is not None:
                check_resume(runner.model, checkpoint, args.config)
            runner.train()  # builds the datasets (validated at load) first
        except RuntimeError as error:
            fault = worker_death(error, runner, cfg.work_dir) or \
                collective_failure(error, cfg)
            if fault is None:
                raise
            if runner is not None:
                runner.logger.error(str(fault))
            raise fault from error
    end_distributed()


if __name__ == '__main__':
    try:
        main()
    except CLEAR_ERRORS as error:
        sys.exit(f'error: {error}')
