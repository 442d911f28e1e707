"""The per-sample numpy path that a batched pre-training config stands for.

``SkeletonPretrainPreprocessor`` runs MAMP's augmentation and masking on whole batches
on the device; the numpy transforms of :mod:`gfp_mmaction.datasets.transforms` do the
same per sample in data-loader workers and are its reference. :func:`per_sample_config`
rewrites a batched config into that reference path, same settings, so that both can be
measured (``tools/analysis/benchmark_pretrain.py --compare-reference``) or trained
(``tools/demo.py --per-sample``) side by side.
"""
import copy

__all__ = ['per_sample_pipeline', 'per_sample_config']

_MASKING = dict(motion_aware='MotionAwareTokenMasking', random='RandomTokenMasking')
_ROTATION = {'3d': 'RandomRotation3D', '2d': 'RandomRotation2D', 'none': None}


def per_sample_pipeline(preprocessor: dict, num_person: int = 2) -> list:
    """The transforms equal to a ``SkeletonPretrainPreprocessor`` config.

    Args:
        preprocessor (dict): the preprocessor's config dict (missing keys take its
            defaults).
        num_person (int): persons per sample after padding. Defaults to 2.

    The per-sample ``keypoint`` field holds only the ``coord_dims`` coordinates: a 2D
    file's ``keypoint_score`` stays a separate field (cropped and resized by
    ``ValidCropResize``) until ``FormatGCNInput`` appends it as the last channel, which
    is where the batched path's ``SkeletonClipDataset(with_score=True)`` puts it at load;
    the dataset's ``with_score`` decides in both paths whether the score is there.

    Returns:
        list[dict]: a pipeline (list of transform configs) ending in ``PackActionInputs``
        with the token mask.
    """
    p = dict(clip_len=120, p_interval=(0.5, 1.0), min_frames=64, max_angle=0.3,
             centre_joint=1, rotation='3d', person_pad='zero', masking='motion_aware',
             mask_ratio=0.9, tau=0.8, patch_len=4)
    p.update({k: v for k, v in preprocessor.items() if k != 'type'})
    if p['rotation'] not in _ROTATION:
        raise ValueError(f"per_sample_pipeline: rotation must be '3d', '2d' or 'none', got "
                         f"{p['rotation']!r}")
    masking = dict(type=_MASKING[p['masking']], mask_ratio=p['mask_ratio'])
    if p['masking'] == 'motion_aware':
        masking['tau'] = p['tau']
    masking['patch_len'] = p['patch_len']
    if p.get('visible_rounding', 'round') != 'round':  # MAMP as published: int(L * 0.1)
        masking['visible_rounding'] = p['visible_rounding']
    rotation = _ROTATION[p['rotation']]
    return [
        dict(type='CentreOnFirstFrame', joint=p['centre_joint']),
        dict(type='ValidCropResize', clip_len=p['clip_len'], p_interval=tuple(p['p_interval']),
             min_frames=p['min_frames']),
        *([dict(type=rotation, max_angle=p['max_angle'])] if rotation else []),
        dict(type='FormatGCNInput', num_person=num_person, mode=p['person_pad']),
        masking,
        dict(type='PackActionInputs', algorithm_keys=('token_mask', )),
    ]


def per_sample_config(cfg):
    """A copy of the batched pre-training config ``cfg`` on the per-sample path.

    The training dataset becomes a ``SkeletonPoseDataset`` with :func:`per_sample_pipeline`,
    the collate ``pseudo_collate`` and the data preprocessor MMAction2's
    ``ActionDataPreprocessor``; everything else is kept, the dataset's layout and channel
    options (``layout``, ``num_joints``, ``num_coords``, ``with_score``, ``normalize_2d``)
    included: they mean the same to both datasets.

    Raises:
        ValueError: ``cfg`` is not a batched pre-training config.
    """
    cfg = copy.deepcopy(cfg)
    preprocessor = cfg.get('data_preprocessor') or \
        (cfg.get('model') or {}).get('data_preprocessor') or {}
    dataset = cfg.train_dataloader.dataset
    if preprocessor.get('type') != 'SkeletonPretrainPreprocessor' or \
            dataset.get('type') != 'SkeletonClipDataset':
        raise ValueError('per_sample_config takes a batched pre-training config '
                         '(SkeletonClipDataset + SkeletonPretrainPreprocessor), got dataset '
                         f'{dataset.get("type")!r} and data_preprocessor '
                         f'{preprocessor.get("type")!r}')
    num_person = dataset.pop('num_person', 2)
    for key in ('device', 'store_dtype'):
        dataset.pop(key, None)
    dataset.update(type='SkeletonPoseDataset',
                   pipeline=per_sample_pipeline(preprocessor, num_person))
    cfg.train_dataloader.collate_fn = dict(type='pseudo_collate')
    cfg.data_preprocessor = dict(type='ActionDataPreprocessor')
    if 'data_preprocessor' in cfg.model:
        cfg.model.data_preprocessor = dict(type='ActionDataPreprocessor')
    return cfg
