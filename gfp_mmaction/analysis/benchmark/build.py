"""What the benchmark builds from a config: the config itself, the optimizer wrapper, the
collate function, and short names for the table."""
import copy
import os.path as osp
from functools import partial
from pathlib import Path
from typing import Callable, List, Optional

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import FUNCTIONS

__all__ = ['load_config', 'make_optim_wrapper', 'config_collate', 'short_names']


def load_config(path: str, cfg_options: Optional[dict]) -> Config:
    """A pre-training config with ``--cfg-options`` merged.

    Args:
        path (str): the config file.
        cfg_options (dict, optional): settings to override.

    Returns:
        Config: the config; it has ``model``, ``optim_wrapper`` and ``train_dataloader``.
    """
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    for key in ('model', 'optim_wrapper', 'train_dataloader'):
        if key not in cfg:
            raise KeyError(f'{path}: the config has no "{key}"; expected a pre-training '
                           'config such as configs/gfp/gfp_ntu60_xsub.py')
    return cfg


def make_optim_wrapper(model: torch.nn.Module, optim_cfg: dict, amp: bool) -> OptimWrapper:
    """The config's optimizer wrapper; with ``amp``, what ``tools/train.py --amp`` uses:
    bf16 autocast without a loss scaler (``AutocastOptimWrapper``, CUDA or CPU).

    Args:
        model (torch.nn.Module): the model, on its device.
        optim_cfg (dict): the config's ``optim_wrapper`` (not modified).
        amp (bool): bf16 autocast.

    Returns:
        OptimWrapper: the built wrapper; Adam / AdamW run fused on CUDA.
    """
    optim_cfg = copy.deepcopy(optim_cfg)
    wrapper_type = optim_cfg.get('type', 'OptimWrapper')
    if amp and wrapper_type not in ('OptimWrapper', 'AutocastOptimWrapper'):
        raise ValueError(f'--amp needs an OptimWrapper or AutocastOptimWrapper, the config '
                         f'has {wrapper_type}')
    if amp:
        optim_cfg.pop('loss_scale', None)
        optim_cfg.update(type='AutocastOptimWrapper', dtype='bfloat16')
    optimizer = optim_cfg.get('optimizer', {})
    if next(model.parameters()).is_cuda and optimizer.get('type') in ('Adam', 'AdamW'):
        optimizer.setdefault('fused', True)  # as tools/train.py does on CUDA
    return build_optim_wrapper(model, optim_cfg)


def config_collate(cfg: Config) -> Callable:
    """The config's DataLoader collate function, built as MMEngine's Runner builds it.

    Args:
        cfg (Config): a config with a ``train_dataloader``.

    Returns:
        Callable: the collate function with its settings bound.
    """
    collate_cfg = copy.deepcopy(cfg.train_dataloader.get('collate_fn',
                                                         dict(type='pseudo_collate')))
    collate = collate_cfg.pop('type')
    if isinstance(collate, str):
        collate = FUNCTIONS.get(collate)
    return partial(collate, **collate_cfg)


def short_names(paths: List[str]) -> List[str]:
    """Config file stems, or relative paths where two stems are equal.

    Args:
        paths (list[str]): config files.

    Returns:
        list[str]: one name per path.
    """
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [osp.relpath(p) for p in paths]
