"""Checks ``tools/train.py`` runs before training, so that a bad config, an unwritable
work dir or a ``--resume`` from another model's checkpoint fails at once with a clear
message, not hours later (after the first epoch, or as a shape warning in the log).

- :func:`check_pipelines`: every pipeline transform exists and builds (its own argument
  checks, e.g. a mask ratio outside (0, 1)); the clip length is a multiple of the patch
  length, and the masking patch length is the encoder's. The same for the batched
  pre-training path's data preprocessor (``data_preprocessor``, e.g.
  ``SkeletonPretrainPreprocessor``), which does there what the pipeline does here.
- :func:`propagate_num_classes`: a dataset that validates its split at load
  (``SkeletonPoseDataset`` or a subclass) without ``num_classes`` gets the
  classifier's, so labels outside ``[0, num_classes)`` are caught at load.
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

from mmaction.registry import DATASETS, MODELS, TRANSFORMS
from mmengine.model import is_model_wrapper
from mmengine.runner import find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from ..utils.config_checks import iter_dataloader_datasets, model_config
from ..utils.joint_layouts import get_layout

__all__ = ['ConfigError', 'WorkDirError', 'ResumeMismatchError', 'check_pipelines',
           'check_data_preprocessor', 'propagate_num_classes', 'check_work_dir',
           'resume_checkpoint', 'check_resume']

_SHOWN = 5  # keys quoted per kind of resume mismatch


class ConfigError(ValueError):
    """A config value that cannot work, found before the runner is built."""


class WorkDirError(OSError):
    """The work dir cannot be created or written."""


class ResumeMismatchError(ValueError):
    """The checkpoint to resume from was made by a different model config."""


def _pipelines(cfg):
    """``(config key, pipeline list)`` of every dataset of every dataloader."""
    for loader, depth, dataset in iter_dataloader_datasets(cfg):
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


def _check_patch_len(where: str, patch_len: int, backbone: dict) -> None:
    """The masking cuts the clip into the encoder's tokens: same ``patch_len``."""
    if 'patch_len' in backbone and backbone['patch_len'] != patch_len:
        raise ConfigError(
            f'{where}: patch_len={patch_len} but model.backbone.patch_len='
            f'{backbone["patch_len"]}; the mask must cut the clip into the encoder\'s '
            'tokens')


def _data_preprocessors() -> List[str]:
    """Names of the registered data preprocessors (this scope's and MMEngine's)."""
    from mmengine.model import BaseDataPreprocessor
    names = set()
    registry = MODELS
    while registry is not None:
        names.update(name for name, cls in registry.module_dict.items()
                     if isinstance(cls, type) and issubclass(cls, BaseDataPreprocessor))
        registry = registry.parent
    return sorted(names)


def check_data_preprocessor(cfg, config_path: str = '') -> None:
    """Build the model's data preprocessor once (the config's top-level
    ``data_preprocessor``, which MMEngine's runner gives to the model, else
    ``model.data_preprocessor``) and check that its ``patch_len``, if it has one, is the
    encoder's. On the batched pre-training path it does the augmentation and masking,
    so its arguments (``clip_len``, ``mask_ratio``, ``masking``, ...) are checked here
    as the pipeline's are.

    Raises:
        ConfigError: naming the config key, the preprocessor and the value.
    """
    model = model_config(cfg) if cfg.get('model') is not None else {}
    preprocessor = model.get('data_preprocessor')
    if not isinstance(preprocessor, dict):
        return
    key = ('data_preprocessor' if cfg.get('data_preprocessor') is not None
           and 'data_preprocessor' not in cfg.model else 'model.data_preprocessor')
    source = f' ({config_path})' if config_path else ''
    name = preprocessor.get('type')
    if isinstance(name, str) and MODELS.get(name) is None:
        close = difflib.get_close_matches(name, _data_preprocessors(), n=1, cutoff=0.6)
        hint = f'; did you mean {close[0]!r}?' if close else ''
        raise ConfigError(f'{key}{source}: unknown data preprocessor type {name!r} (not in '
                          f'the mmaction model registry){hint}')
    label = name if isinstance(name, str) else getattr(name, '__name__', name)
    where = f'{key} ({label}){source}'
    try:
        built = MODELS.build(dict(preprocessor))
    except Exception as error:
        raise ConfigError(f'{where}: {error}') from error
    if isinstance(getattr(built, 'patch_len', None), int):
        _check_patch_len(where, built.patch_len, model.get('backbone') or {})
    _check_data_shape(cfg, where, built, model.get('backbone') or {})


def _check_data_shape(cfg, where: str, preprocessor, backbone: dict) -> None:
    """The training data's coordinates, channels and joints against the preprocessor's
    ``coord_dims`` and the encoder's ``in_channels`` / ``num_joints``: a 2D file read
    with 3D settings would otherwise rotate the score channel as if it were z."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    if not isinstance(dataset, dict) or not dataset:
        return
    coords = dataset.get('num_coords', 3)
    coord_dims = getattr(preprocessor, 'coord_dims', None)
    if isinstance(coord_dims, int) and coord_dims != coords:
        raise ConfigError(f'{where}: coord_dims={coord_dims} but the training dataset '
                          f'reads num_coords={coords} coordinates per joint; set both to '
                          'the same value (2D keypoints: 2, 3D: 3)')
    if dataset.get('with_score') is not None and 'in_channels' in backbone:
        channels = coords + (1 if dataset['with_score'] else 0)
        if backbone['in_channels'] != channels:
            raise ConfigError(
                f'model.backbone.in_channels={backbone["in_channels"]} but the training '
                f'dataset gives {channels} channels per joint (num_coords={coords}'
                f'{" + keypoint_score" if dataset["with_score"] else ""})')
    layout = dataset.get('layout')
    joints = get_layout(layout).num_joints if layout is not None else dataset.get('num_joints')
    if isinstance(joints, int) and backbone.get('num_joints', joints) != joints:
        raise ConfigError(f'model.backbone.num_joints={backbone["num_joints"]} but the '
                          f'training dataset has {joints} joints per person'
                          + (f' (layout {layout!r})' if layout is not None else ''))


def check_pipelines(cfg, config_path: str = '') -> None:
    """Build every transform of every dataloader's pipeline once, and check that the
    clip length (the last transform's ``clip_len``) is a multiple of the patch length
    and that the masking transform's ``patch_len`` is the encoder's; then the same for
    the data preprocessor (:func:`check_data_preprocessor`), which does the pipeline's
    work on the batched pre-training path.

    Raises:
        ConfigError: naming the config key (``train_dataloader.dataset.pipeline[4]``,
            ``data_preprocessor``), the transform or preprocessor and the value.
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
        if patch:
            _check_patch_len(patch[0] + where, patch[1], backbone)
        if patch is None and isinstance(backbone.get('patch_len'), int):
            patch = ('model.backbone', backbone['patch_len'])
        if clip and patch and clip[1] % patch[1]:
            raise ConfigError(
                f'{clip[0]}{where}: clip_len={clip[1]} is not divisible by '
                f'patch_len={patch[1]} of {patch[0]}; use a multiple of {patch[1]}')
    check_data_preprocessor(cfg, config_path)


def _validates_at_load(dataset_cfg: dict) -> bool:
    """Whether the dataset config builds a :class:`SkeletonPoseDataset` (or a subclass:
    ``SemiSupervisedPoseDataset``, ``RetrievalPoseDataset``, ``SkeletonClipDataset``,
    a user's own), the datasets that check their labels at load; decided by the
    registered class, not by its name."""
    from ..datasets import SkeletonPoseDataset
    kind = dataset_cfg.get('type')
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    return isinstance(cls, type) and issubclass(cls, SkeletonPoseDataset)


def propagate_num_classes(cfg) -> List[str]:
    """Give each dataset that validates at load (:func:`_validates_at_load`) and has no
    ``num_classes`` the classifier's (``model.cls_head.num_classes``), so that its labels
    are range-checked at load.

    Args:
        cfg (Config): the run's config, changed in place.

    Returns:
        list[str]: the config keys set.
    """
    head = (cfg.get('model') or {}).get('cls_head') or {}
    num_classes = head.get('num_classes')
    if not isinstance(num_classes, int):
        return []
    changed = []
    for loader, _, dataset in iter_dataloader_datasets(cfg):
        if dataset.get('num_classes') is None and _validates_at_load(dataset):
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
