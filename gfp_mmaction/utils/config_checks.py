"""Checks on a loaded config that must fail before a runner is built, and the walks
over its dataloaders' dataset configs that these checks and the pre-flight checks of
``tools/train.py`` (:mod:`gfp_mmaction.engine.preflight`) share."""
import copy
import os.path as osp
from typing import Iterator, List, Tuple

__all__ = ['missing_annotation_files', 'MissingDataError', 'check_annotation_files',
           'iter_dataset_cfgs', 'iter_dataloader_datasets', 'first_dataset_cfg',
           'model_config']

_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
DATA_DOC = 'docs/data_preparation.md (README section "Preparing the datasets")'


class MissingDataError(FileNotFoundError):
    """A dataloader's annotation file does not exist."""


def iter_dataset_cfgs(dataset_cfg):
    """Yield every dataset config, through wrappers (RepeatDataset, ConcatDataset, ...)."""
    if not isinstance(dataset_cfg, dict):
        return
    yield dataset_cfg
    for key in ('dataset', 'datasets'):
        inner = dataset_cfg.get(key)
        for item in (inner if isinstance(inner, (list, tuple)) else [inner]):
            yield from iter_dataset_cfgs(item)


def iter_dataloader_datasets(cfg) -> Iterator[Tuple[str, int, dict]]:
    """Walk every dataset config of the config's dataloaders, through wrappers.

    Args:
        cfg (Config | dict): the config.

    Yields:
        tuple: ``(dataloader key, position, dataset config)`` for the train, val and test
        dataloaders that exist, in that order; ``position`` counts the dataset configs
        of one dataloader in :func:`iter_dataset_cfgs`'s order (0 = its ``dataset``).
    """
    for loader in _DATALOADERS:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for position, dataset in enumerate(iter_dataset_cfgs(loader_cfg.get('dataset'))):
            yield loader, position, dataset


def first_dataset_cfg(dataset_cfg) -> dict:
    """The dataset config that reads the data, inside any wrappers: the dataset of a
    ``RepeatDataset`` / ``ClassBalancedDataset``, the first one of a ``ConcatDataset``
    (recursively); ``dataset_cfg`` itself when it wraps nothing, ``{}`` for none."""
    for dataset in iter_dataset_cfgs(dataset_cfg):
        if not isinstance(dataset.get('dataset'), dict) and \
                not isinstance(dataset.get('datasets'), (list, tuple)):
            return dataset
    return {}


def model_config(cfg) -> dict:
    """``cfg.model`` with the config's top-level ``data_preprocessor`` in it, as MMEngine's
    ``Runner`` builds the model (the pre-training configs keep the batched preprocessor at
    the top level, next to the data it works on)."""
    model = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None and 'data_preprocessor' not in model:
        model['data_preprocessor'] = copy.deepcopy(cfg.data_preprocessor)
    return model


def missing_annotation_files(cfg) -> List[Tuple[str, str]]:
    """``(config key, path)`` of each annotation file the config names that is absent."""
    missing = []
    for loader, _, dataset in iter_dataloader_datasets(cfg):
        ann_file = dataset.get('ann_file')
        if not ann_file:
            continue
        path = osp.join(dataset.get('data_root') or '', ann_file)
        if not osp.isfile(path):
            missing.append((f'{loader}.dataset.ann_file', path))
    return missing


def check_annotation_files(cfg, config_path: str = '') -> None:
    """Raise :class:`MissingDataError` naming every absent annotation file."""
    missing = missing_annotation_files(cfg)
    if not missing:
        return
    lines = [f'  {path}  ({key})' for key, path in missing]
    raise MissingDataError(
        f'{config_path or "the config"} needs data that is not there:\n' + '\n'.join(lines) +
        f'\nPrepare it as described in {DATA_DOC}, or point the config at your file with '
        '--cfg-options train_dataloader.dataset.ann_file=PATH (paths are relative to the '
        'current directory). `python tools/demo.py` runs on a generated dataset instead.')
