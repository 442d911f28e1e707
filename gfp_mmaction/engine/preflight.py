"""Checks ``tools/train.py`` runs before training, so that a bad config, an unwritable
work dir or a ``--resume`` from another model's checkpoint fails at once with a clear
message, not hours later (after the first epoch, or as a shape warning in the log).

- :func:`check_pipelines`: every pipeline transform exists and builds (its own argument
  checks, e.g. a mask ratio outside (0, 1)); the clip length is a multiple of the patch
  length, and the masking patch length is the encoder's.
- :func:`propagate_num_classes`: a ``SkeletonPoseDataset`` without ``num_classes`` gets
  the classifier's, so labels outside ``[0, num_classes)`` are caught at load.
- :func:`check_work_dir`: the work dir can be created and written.
- :func:`check_resume`: the checkpoint ``--resume`` would load holds exactly the
  model's weights, with the same shapes (MMEngine's resume loads with ``strict=False``
  and only warns).
"""
import difflib
import os
import os.path as osp
import re
import tempfile
from typing import Dict, List, Optional, Tuple

from mmaction.registry import TRANSFORMS
from mmengine.model import is_model_wrapper
from mmengine.runner import find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from ..utils.config_checks import iter_dataset_cfgs

__all__ = ['ConfigError', 'WorkDirError', 'ResumeMismatchError', 'check_pipelines',
           'propagate_num_classes', 'check_work_dir', 'resume_checkpoint',
           'check_resume']

_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_SHOWN = 5  # keys quoted per kind of resume mismatch


class ConfigError(ValueError):
    """A config value that cannot work, found before the runner is built."""


class WorkDirError(OSError):
    """The work dir cannot be created or written."""


class ResumeMismatchError(ValueError):
    """The checkpoint to resume from was made by a different model config."""


def _pipelines(cfg):
    """``(config key, pipeline list)`` of every dataset of every dataloader."""
    for loader in _DATALOADERS:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for depth, dataset in enumerate(iter_dataset_cfgs(loader_cfg.get('dataset'))):
            pipeline = dataset.get('pipeline')
            if isinstance(pipeline, (list, tuple)):
                yield f'{loader}.dataset' + '.dataset' * depth + '.pipeline', pipeline


def _masking_transforms() -> List[str]:
    from ..datasets.transforms.masking import BaseTokenMasking
    return sorted(name for name, cls in TRANSFORMS.module_dict.items()
                  if isinstance(cls, type) and issubclass(cls, BaseTokenMasking))


def _unknown_type(key: str, name: str) -> ConfigError:
    close = difflib.get_close_matches(name, list(TRANSFORMS.module_dict), n=3, cutoff=0.6)
    hint = f'; did you mean {" or ".join(map(repr, close))}?' if close else ''
    return ConfigError(
        f'{key}: unknown transform type {name!r} (not in the mmaction transform '
        f'registry){hint} Masking strategies: {", ".join(_masking_transforms())}.')


def check_pipelines(cfg, config_path: str = '') -> None:
    """Build every transform of every dataloader's pipeline once, and check that the
    clip length (the last transform's ``clip_len``) is a multiple of the patch length
    and that the masking transform's ``patch_len`` is the encoder's.

    Raises:
        ConfigError: naming the config key (``train_dataloader.dataset.pipeline[4]``),
            the transform and the value.
    """
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    where = f' ({config_path})' if config_path else ''
    for key, pipeline in _pipelines(cfg):
        clip: Optional[Tuple[str, int]] = None    # (transform key, clip_len)
        patch: Optional[Tuple[str, int]] = None   # (transform key, patch_len)
        for i, step in enumerate(pipeline):
            if not isinstance(step, dict):
                continue  # a callable: nothing to check
            step_key = f'{key}[{i}]'
            name = step.get('type')
            if isinstance(name, str) and TRANSFORMS.get(name) is None:
                raise _unknown_type(step_key + where, name)
            try:
                transform = TRANSFORMS.build(dict(step))
            except Exception as error:
                label = name if isinstance(name, str) else getattr(name, '__name__', name)
                raise ConfigError(f'{step_key} ({label}){where}: {error}') from error
            if isinstance(getattr(transform, 'clip_len', None), int):
                clip = (f'{step_key} ({type(transform).__name__})', transform.clip_len)
            if isinstance(getattr(transform, 'patch_len', None), int):
                patch = (f'{step_key} ({type(transform).__name__})', transform.patch_len)
        if patch and 'patch_len' in backbone and backbone['patch_len'] != patch[1]:
            raise ConfigError(
                f'{patch[0]}{where}: patch_len={patch[1]} but model.backbone.patch_len='
                f'{backbone["patch_len"]}; the mask must cut the clip into the encoder\'s '
                'tokens')
        if patch is None and isinstance(backbone.get('patch_len'), int):
            patch = ('model.backbone', backbone['patch_len'])
        if clip and patch and clip[1] % patch[1]:
            raise ConfigError(
                f'{clip[0]}{where}: clip_len={clip[1]} is not divisible by '
                f'patch_len={patch[1]} of {patch[0]}; use a multiple of {patch[1]}')


def propagate_num_classes(cfg) -> List[str]:
    """Give each ``SkeletonPoseDataset`` without ``num_classes`` the classifier's
    (``model.cls_head.num_classes``), so that its labels are range-checked at load.

    Returns:
        the config keys set.
    """
    head = (cfg.get('model') or {}).get('cls_head') or {}
    num_classes = head.get('num_classes')
    if not isinstance(num_classes, int):
        return []
    changed = []
    for loader in _DATALOADERS:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for dataset in iter_dataset_cfgs(loader_cfg.get('dataset')):
            if dataset.get('type') == 'SkeletonPoseDataset' and \
                    dataset.get('num_classes') is None:
                dataset['num_classes'] = num_classes
                changed.append(f'{loader}.dataset.num_classes')
    return changed


def check_work_dir(work_dir: str) -> None:
    """Create ``work_dir`` and write and remove a probe file in it.

    Raises:
        WorkDirError: naming the dir and the reason.
    """
    if '://' in str(work_dir):
        return  # a remote backend: its own client reports access errors
    try:
        os.makedirs(work_dir, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.write_probe_', dir=work_dir)
        try:
            os.write(fd, b'probe')
            os.fsync(fd)
        finally:
            os.close(fd)
            os.remove(probe)
    except OSError as error:
        reason = error.strerror or str(error)
        raise WorkDirError(
            f'work dir {osp.abspath(work_dir)} is not writable ({reason}): logs and '
            'checkpoints go there. Choose another with --work-dir, or fix its '
            'permissions.') from error


def resume_checkpoint(cfg) -> Optional[str]:
    """The checkpoint that ``Runner.load_or_resume`` will resume from, as MMEngine picks
    it: ``load_from`` if given, else the one ``work_dir/last_checkpoint`` names; None
    when not resuming (or when there is nothing to resume yet)."""
    if not cfg.get('resume'):
        return None
    if cfg.get('load_from'):
        return cfg.load_from
    return find_latest_checkpoint(cfg.work_dir)


def _state_dict(model: nn.Module) -> Dict:
    return (model.module if is_model_wrapper(model) else model).state_dict()


def _listing(keys: List[str]) -> str:
    more = f' (+{len(keys) - _SHOWN} more)' if len(keys) > _SHOWN else ''
    return ', '.join(keys[:_SHOWN]) + more


def check_resume(model: nn.Module, checkpoint_path: str, config_path: str = '') -> None:
    """Compare the checkpoint's ``state_dict`` with ``model``'s: same keys, same shapes.

    The checkpoint is read with MMEngine's loader (it unpickles: trusted files only).

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        ResumeMismatchError: naming the checkpoint, the config and the first missing,
            unexpected and shape-mismatched keys with their counts.
    """
    try:
        checkpoint = _load_checkpoint(checkpoint_path, map_location='cpu')
    except FileNotFoundError as error:
        raise FileNotFoundError(f'--resume: checkpoint {checkpoint_path} not found') \
            from error
    saved = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else {}
    saved = {re.sub(r'^module\.', '', k): v for k, v in saved.items()}
    own = _state_dict(model)
    missing = sorted(own.keys() - saved.keys())
    unexpected = sorted(saved.keys() - own.keys())
    shapes = [f'{k} {tuple(saved[k].shape)} in the checkpoint, {tuple(own[k].shape)} in the '
              f'model' for k in sorted(own.keys() & saved.keys())
              if hasattr(saved[k], 'shape') and tuple(saved[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or shapes):
        return
    config = config_path or 'the config'
    counts = ', '.join(f'{n} {what}' for n, what in (
        (len(missing), 'missing keys'), (len(unexpected), 'unexpected keys'),
        (len(shapes), 'shape mismatches')) if n)
    lines = [f'Cannot resume: checkpoint {checkpoint_path} was not made by the model of '
             f'{config} ({counts})']
    if missing:
        lines.append(f'  missing (in the model, not in the checkpoint): {_listing(missing)}')
    if unexpected:
        lines.append(f'  unexpected (in the checkpoint, not in the model): '
                     f'{_listing(unexpected)}')
    if shapes:
        lines.append(f'  shape mismatch: {_listing(shapes)}')
    lines.append('Resume with the config (and --cfg-options) the checkpoint was trained '
                 'with, or train in a new --work-dir. No weights were loaded and no '
                 'checkpoint was written.')
    raise ResumeMismatchError('\n'.join(lines))
