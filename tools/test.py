"""Evaluate a checkpoint with MMEngine's runner (any MMAction2 config, or gfp-mmaction's).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump FILE.pkl]
        [--cfg-options k=v ...] [--launcher pytorch]

The checkpoint is loaded with ``weights_only=True`` and the allowlist of
``gfp_mmaction.compat``: a file holding other objects is refused (nothing of it runs)
unless ``GFP_TRUST_CHECKPOINTS=1`` is set for files you trust (docs/robustness.md).
"""
import argparse
import os.path as osp
import sys
from pathlib import Path

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes before any build)
from gfp_mmaction.compat import UntrustedCheckpointError, end_distributed  # noqa: E402
from gfp_mmaction.models.backbones import SkeletonTransformer, load_encoder_state  # noqa: E402
from gfp_mmaction.utils import MissingDataError, check_annotation_files  # noqa: E402
from gfp_mmaction.utils.cli_args import add_cfg_options, parse_args_with_launcher  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--dump', type=str, help='dump predictions to a pickle file')
    add_cfg_options(parser, 'test_dataloader.batch_size=32')
    return parse_args_with_launcher(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint {args.checkpoint} does not exist')
    # Testing reads the test data only. MMEngine wants each of the train and val groups
    # complete or absent (a train_cfg without train_dataloader is an error): drop both.
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                'val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg.pop(key, None)
    try:
        check_annotation_files(cfg, args.config)
    except MissingDataError as error:
        sys.exit(f'error: {error}')
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            sys.exit('error: --dump must name a .pkl or .pickle file')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluators = cfg.test_evaluator
        cfg.test_evaluator = [*evaluators, dump_metric] if isinstance(evaluators, (list, tuple)) \
            else [evaluators, dump_metric]
    runner = Runner.from_cfg(cfg)
    try:
        check_encoder_weights(runner.model, args.checkpoint)
    except (ValueError, UntrustedCheckpointError) as error:
        sys.exit(f'error: {error}')
    try:
        runner.test()  # loads the checkpoint again (models without a GFP encoder: first)
    except UntrustedCheckpointError as error:  # its message names the file and the objects
        sys.exit(f'error: {error}')
    end_distributed()


def check_encoder_weights(model, checkpoint: str) -> None:
    """A GFP encoder must find all its weights in the checkpoint under ``backbone.``:
    MMEngine's non-strict load would otherwise evaluate random features (retrieval,
    linear testing) and only log the missing keys."""
    model = model.module if is_model_wrapper(model) else model
    if isinstance(getattr(model, 'backbone', None), SkeletonTransformer):
        load_encoder_state(model.backbone, checkpoint, prefix='backbone.')


if __name__ == '__main__':
    main()
