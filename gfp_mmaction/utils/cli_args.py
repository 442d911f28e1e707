"""Command-line arguments that several tools define alike (``tools/train.py``,
``tools/test.py``, ``tools/extract_features.py``)."""
import argparse
import os
from typing import Optional, Sequence

from mmengine.config import DictAction

__all__ = ['add_cfg_options', 'parse_args_with_launcher']


def add_cfg_options(parser: argparse.ArgumentParser, example: Optional[str] = None) -> None:
    """``--cfg-options k=v ...``: settings merged into the config (MMEngine's
    ``DictAction``); ``example`` is shown in the help."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config' + (f', e.g. {example}' if example else ''))


def parse_args_with_launcher(parser: argparse.ArgumentParser,
                             argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Add MMAction2's ``--launcher`` and ``--local_rank`` (``--local-rank``) to
    ``parser``, parse ``argv`` and set ``LOCAL_RANK`` from ``--local_rank`` unless the
    launcher (torchrun) has set it."""
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args
