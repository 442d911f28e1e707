"""MMAction2's ``PoseDataset`` with every sample of its split checked when it loads.

A broken sample in a 3D skeleton pickle (a NaN coordinate, a third person, a label past
the last class, a clip shorter than one token) otherwise surfaces hours into a run as a
NaN loss or a shape error that names neither the file nor the sample. Here the split is
checked with :func:`~gfp_mmaction.datasets.validation.validate_annotations` (the checks
of ``tools/data/check_skeleton_pkl.py``) before the first batch, and the first problem
is raised as one :class:`AnnotationError` that names the file, the sample
(``frame_dir``) and the field. Valid ``keypoint`` arrays of another float dtype are then
cast to float32 (MMAction2's own NTU pickles store float16; docs/data_preparation.md).

Two problems have a sensible repair, each off by default (``repair=dict(...)``) and
counted in the log when on:

- ``non_finite='zero'``: a joint with a NaN / inf coordinate becomes all zeros (the
  value of an absent joint); a person left with no non-zero joint is dropped.
- ``max_persons='most_moving'``: of more than 2 persons, the 2 that move most are kept
  (motion = summed joint displacement between consecutive frames where the person is
  present), in their original order.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import mmengine
import numpy as np
from mmaction.datasets import PoseDataset
from mmaction.registry import DATASETS
from mmengine.logging import MMLogger

from ..utils.joint_layouts import get_layout
from .keypoint_arrays import (
    DEFAULT_IMG_SHAPE,
    MAX_PERSONS,
    NORMALIZE_2D,
    keypoints_as_float32,
    most_moving_persons,
    normalize_2d,
    repair_non_finite,
)
from .validation import validate_annotations

__all__ = ['AnnotationError', 'SkeletonPoseDataset']

_SHOWN = 10      # problems listed in one error
_REPAIRS = dict(non_finite=(None, 'zero'), max_persons=(None, 'most_moving'))
CHECKER = 'tools/data/check_skeleton_pkl.py'


class AnnotationError(ValueError):
    """The annotation file, a split of it or a sample is unusable."""


def _min_frames_of(pipeline) -> int:
    """The largest ``patch_len`` among the pipeline's transforms (the masking ones), or
    1: a clip shorter than one token cannot be masked or encoded."""
    lengths = [getattr(t, 'patch_len', None) for t in getattr(pipeline, 'transforms', [])]
    return max([n for n in lengths if isinstance(n, int) and n > 0], default=1)


def _with_context(error: Exception, where: str) -> Exception:
    """``error`` of the same type with ``where`` in front of its message."""
    message = error.args[0] if len(error.args) == 1 else str(error)
    try:
        return type(error)(f'{where}: {message}')
    except Exception:  # an exception type with another constructor
        return RuntimeError(f'{where}: {type(error).__name__}: {message}')


@DATASETS.register_module()
class SkeletonPoseDataset(PoseDataset):
    """``PoseDataset`` (same arguments) that validates its split when it loads.

    At load, after the split is selected: the file must be a readable pickle; the split
    must exist and be non-empty; every sample of it must pass
    :func:`validate_annotations` (fields ``frame_dir``, ``label`` in
    ``[0, num_classes)``, ``total_frames``, ``keypoint`` float
    ``(M, T, num_joints, num_coords)`` with ``1 <= M <= 2``, finite, no all-zero person,
    ``keypoint_score`` ``(M, T, num_joints)`` when present) and hold at least
    ``min_frames`` frames. The first problem is raised as :class:`AnnotationError`, the
    next ones are listed under it. Every ``keypoint`` of the split is then float32,
    whatever float dtype the file stores (float16 in MMAction2's ``ntu60_3d.pkl`` /
    ``ntu120_3d.pkl``, float64 from a user's own script): every pipeline and model sees
    one dtype. Errors raised by the pipeline for one sample get the file and split in
    front of their message. The datasets that choose their samples otherwise
    (:class:`~gfp_mmaction.datasets.SemiSupervisedPoseDataset`,
    :class:`~gfp_mmaction.datasets.RetrievalPoseDataset`) subclass it and run the same
    loading steps, so they validate, and fail, alike.

    Args:
        ann_file (str): the ``.pkl`` annotation file (trusted: it is unpickled).
        pipeline (list): the transforms.
        split (str, optional): the split to use (e.g. ``'xsub_train'``); None = every
            annotation.
        num_classes (int, optional): labels must lie in ``[0, num_classes)``; None = only
            ``>= 0``.
        layout (str | dict | JointLayout, optional): the joint layout
            (:mod:`gfp_mmaction.utils.joint_layouts`): a registered name (``'ntu25'``,
            ``'coco17'``), a dict of a layout's fields or a ``JointLayout``; it gives
            ``num_joints``. None = ``num_joints`` alone.
        num_joints (int, optional): joints per person ``V``; None = the layout's, else 25
            (NTU).
        num_coords (int): coordinates per joint: 3 (3D skeletons) or 2 (2D keypoints).
            Defaults to 3.
        with_score (bool, optional): MMAction2's 2D ``keypoint_score`` ``(M, T, V)``:
            None = as the file has it (a pipeline's ``FormatGCNInput`` appends it as a
            channel); True = every sample must have it; False = removed at load
            (coordinates only).
        normalize_2d (str, optional): None (coordinates as stored), ``'half_height'`` or
            ``'half_size'``: divide 2D pixel coordinates by half the image height (both
            axes) or by half its width and height (MMAction2's ``PreNormalize2D``
            scale), with each sample's ``img_shape`` (else ``(1080, 1920)``); see
            :func:`normalize_2d`. Defaults to None.
        min_frames (int, optional): shortest clip accepted; None = the largest
            ``patch_len`` of the pipeline's transforms (1 without a masking transform).
        repair (dict, optional):
            ``dict(non_finite=None | 'zero', max_persons=None | 'most_moving')``; None or
            a missing key = off (the problem is an error).
        **kwargs: the rest of ``PoseDataset``'s arguments.
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List,
                 split: Optional[str] = None,
                 num_classes: Optional[int] = None,
                 layout=None,
                 num_joints: Optional[int] = None,
                 num_coords: int = 3,
                 with_score: Optional[bool] = None,
                 normalize_2d: Optional[str] = None,
                 min_frames: Optional[int] = None,
                 repair: Optional[Dict] = None,
                 **kwargs) -> None:
        repair = dict(repair or {})
        for key, value in repair.items():
            if key not in _REPAIRS or value not in _REPAIRS[key]:
                raise ValueError(
                    f'SkeletonPoseDataset ({ann_file}): repair={repair!r}; expected keys ' +
                    ', '.join(f'{k} (one of {v})' for k, v in _REPAIRS.items()))
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes <= 0):
            raise ValueError(f'SkeletonPoseDataset ({ann_file}): num_classes must be a '
                             f'positive int or None, got {num_classes!r}')
        if min_frames is not None and (not isinstance(min_frames, int) or min_frames < 1):
            raise ValueError(f'SkeletonPoseDataset ({ann_file}): min_frames must be a '
                             f'positive int or None, got {min_frames!r}')
        self.layout = None if layout is None else get_layout(layout)
        if self.layout is not None and num_joints not in (None, self.layout.num_joints):
            raise ValueError(f'SkeletonPoseDataset ({ann_file}): num_joints={num_joints} but '
                             f'layout {self.layout.name!r} has {self.layout.num_joints} joints; '
                             'set one of them')
        if num_coords not in (2, 3):
            raise ValueError(f'SkeletonPoseDataset ({ann_file}): num_coords must be 3 (3D '
                             f'skeletons) or 2 (2D keypoints), got {num_coords!r}')
        if with_score not in (None, True, False):
            raise ValueError(f'SkeletonPoseDataset ({ann_file}): with_score must be None, True '
                             f'or False, got {with_score!r}')
        if normalize_2d not in (None, *NORMALIZE_2D):
            raise ValueError(f'SkeletonPoseDataset ({ann_file}): normalize_2d must be None, '
                             f"'half_height' or 'half_size', got {normalize_2d!r}")
        if normalize_2d and num_coords != 2:
            raise ValueError(f'SkeletonPoseDataset ({ann_file}): normalize_2d='
                             f'{normalize_2d!r} scales 2D pixel coordinates; it needs '
                             f'num_coords=2, got {num_coords}')
        self.repair = repair
        self.num_joints = self.layout.num_joints if self.layout is not None else \
            (25 if num_joints is None else num_joints)
        self.num_coords, self.with_score = num_coords, with_score
        self.normalize_2d = normalize_2d
        self.min_frames = min_frames
        self.repair_counts: Dict[str, int] = {}
        super().__init__(ann_file, pipeline, split=split, num_classes=num_classes, **kwargs)

    # ----------------------------------------------------------------- loading
    # The steps of load_data_list, shared by the subclasses that select their samples
    # otherwise (SemiSupervisedPoseDataset, RetrievalPoseDataset): _read -> _select ->
    # _repair -> _check -> _with_prefix.
    _OWN_SPLIT = object()  # default of ``split`` below: ``self.split``

    def _where(self, split=_OWN_SPLIT) -> str:
        """``ann_file``, followed by ``(split 'NAME')`` when there is a split."""
        split = self.split if split is self._OWN_SPLIT else split
        return f'{self.ann_file}' + (f' (split {split!r})' if split else '')

    def _read(self):
        """The unpickled annotation file.

        Raises:
            AnnotationError: not a ``.pkl`` path, no such file, or not a readable pickle.
        """
        if not str(self.ann_file).endswith('.pkl'):
            raise AnnotationError(f'{self.ann_file}: expected a .pkl annotation file')
        if not osp.isfile(self.ann_file):
            raise AnnotationError(f'{self.ann_file}: no such annotation file')
        try:
            return mmengine.load(self.ann_file)
        except Exception as error:  # truncated / not a pickle: say which file
            raise AnnotationError(f'{self.ann_file}: cannot be read as a pickle: '
                                  f'{type(error).__name__}: {error}') from error

    def _select(self, data, split: Optional[str]) -> tuple:
        """``(split's annotations in file order, their positions in the file, the split's
        list of frame_dir or None without a split)``; ``split=None`` = every annotation.

        Raises:
            AnnotationError: no annotation list, no split dict, no such split or an
                empty split; naming the file and the splits it has.
        """
        annotations = data.get('annotations') if isinstance(data, dict) else data
        if not isinstance(annotations, (list, tuple)):
            # validate_annotations words the message for every malformed layout.
            problems = validate_annotations(data, self.ann_file)
            raise AnnotationError(problems[0] if problems else
                                  f'{self.ann_file}: no annotation list')
        if split is None:
            return list(annotations), list(range(len(annotations))), None
        splits = data.get('split') if isinstance(data, dict) else None
        if not isinstance(splits, dict):
            raise AnnotationError(
                f'{self.ann_file}: split {split!r} requested, but the file has no '
                '"split" dict (expected dict(split=dict(NAME=[frame_dir, ...]), '
                'annotations=[...])); set split=None to use every annotation')
        if split not in splits:
            available = ', '.join(repr(k) for k in sorted(map(str, splits))) or 'none'
            raise AnnotationError(f'{self.ann_file}: split {split!r} is not in the '
                                  f'file; its splits are: {available}')
        names = splits[split]
        if not isinstance(names, (list, tuple)) or not names:
            sizes = ', '.join(f'{k!r} ({len(v) if isinstance(v, (list, tuple)) else "?"})'
                              for k, v in splits.items())
            raise AnnotationError(f'{self.ann_file}: split {split!r} is empty (expected '
                                  f'a non-empty list of frame_dir); the splits are: {sizes}')
        wanted = set(n for n in names if isinstance(n, str))
        chosen = [(i, a) for i, a in enumerate(annotations)
                  if isinstance(a, dict) and a.get('frame_dir') in wanted]
        return [a for _, a in chosen], [i for i, _ in chosen], list(names)

    def _repair(self, annotations: List[dict]) -> None:
        """Apply the enabled repairs in place and record their counts."""
        counts = dict(non_finite_samples=0, non_finite_joints=0, dropped_persons=0,
                      extra_person_samples=0)
        for anno in annotations:
            keypoint = anno.get('keypoint')
            if not (isinstance(keypoint, np.ndarray) and keypoint.ndim == 4
                    and np.issubdtype(keypoint.dtype, np.floating)):
                continue  # validation reports it
            kept = np.arange(len(keypoint))
            if self.repair.get('non_finite') == 'zero':
                keypoint, kept, joints = repair_non_finite(keypoint)
                if joints:
                    counts['non_finite_samples'] += 1
                    counts['non_finite_joints'] += joints
                    counts['dropped_persons'] += len(anno['keypoint']) - len(kept)
            if self.repair.get('max_persons') == 'most_moving' and len(keypoint) > MAX_PERSONS:
                chosen = most_moving_persons(keypoint)
                keypoint, kept = keypoint[chosen], kept[chosen]
                counts['extra_person_samples'] += 1
            anno['keypoint'] = keypoint
            score = anno.get('keypoint_score')
            if isinstance(score, np.ndarray) and len(kept) < len(score):
                anno['keypoint_score'] = score[kept]  # the same persons as keypoint
        self.repair_counts = counts
        if any(counts.values()):
            MMLogger.get_current_instance().warning(
                f'{self._where()}: repaired {counts["non_finite_samples"]} samples with '
                f'non-finite coordinates ({counts["non_finite_joints"]} joints set to zero, '
                f'{counts["dropped_persons"]} persons left empty and dropped) and '
                f'{counts["extra_person_samples"]} samples with more than {MAX_PERSONS} '
                f'persons (kept the {MAX_PERSONS} most moving)')

    def _repair_hint(self, annotations: List[dict]) -> List[str]:
        """What the off-by-default repairs would fix, for the error message."""
        non_finite = extra = 0
        for anno in annotations:
            keypoint = anno.get('keypoint')
            if isinstance(keypoint, np.ndarray) and keypoint.ndim == 4 and keypoint.size:
                if np.issubdtype(keypoint.dtype, np.floating) and \
                        not np.isfinite(keypoint).all():
                    non_finite += 1
                extra += len(keypoint) > MAX_PERSONS
        hints = []
        if non_finite and self.repair.get('non_finite') is None:
            hints.append(f'{non_finite} samples have non-finite coordinates: the dataset '
                         "option repair=dict(non_finite='zero') sets those joints to zero")
        if extra and self.repair.get('max_persons') is None:
            hints.append(f'{extra} samples have more than {MAX_PERSONS} persons: the dataset '
                         "option repair=dict(max_persons='most_moving') keeps the "
                         f'{MAX_PERSONS} most moving')
        return hints

    def _check(self, annotations: List[dict], positions: List[int],
               names: Optional[Sequence[str]], split=_OWN_SPLIT) -> None:
        """Raise one :class:`AnnotationError` listing the problems of ``annotations`` (the
        samples of ``split``, at ``positions`` in the file; ``names`` its frame_dirs or
        None), if any; else make their keypoints float32 (:func:`keypoints_as_float32`)."""
        split = self.split if split is self._OWN_SPLIT else split
        data = annotations if names is None else \
            dict(split={split: names}, annotations=annotations)
        problems = validate_annotations(data, self.ann_file, num_classes=self.num_classes,
                                        num_joints=self.num_joints,
                                        num_coords=self.num_coords,
                                        max_persons=MAX_PERSONS, positions=positions,
                                        require_score=self.with_score is True)
        if self.normalize_2d:
            problems += self._img_shape_problems(annotations, positions)
        min_frames = self.min_frames or _min_frames_of(self.pipeline)
        for i, anno in zip(positions, annotations):
            keypoint = anno.get('keypoint')
            if isinstance(keypoint, np.ndarray) and keypoint.ndim == 4 and \
                    0 < keypoint.shape[1] < min_frames:
                problems.append(
                    f'{self.ann_file}: sample {anno.get("frame_dir")!r} (annotations[{i}]): '
                    f'field "keypoint": {keypoint.shape[1]} frames, expected at least '
                    f'{min_frames} (min_frames: one token of the pipeline\'s patch_len)')
        if not problems:
            keypoints_as_float32(annotations)
            for anno in annotations:
                if self.with_score is False:
                    anno.pop('keypoint_score', None)
                if self.normalize_2d:
                    anno['keypoint'] = normalize_2d(
                        anno['keypoint'], anno.get('img_shape', DEFAULT_IMG_SHAPE),
                        self.normalize_2d)
            return
        lines = [problems[0]]
        if len(problems) > 1:
            lines.append(f'{len(problems)} problems in {self._where(split)}, the first '
                         f'{min(len(problems), _SHOWN)}:')
            lines += [f'  {p}' for p in problems[:_SHOWN]]
        lines += [f'hint: {h}' for h in self._repair_hint(annotations)]
        lines.append(f'Check the whole file with: python {CHECKER} {self.ann_file}')
        raise AnnotationError('\n'.join(lines))

    def _img_shape_problems(self, annotations: List[dict], positions: List[int]) -> List[str]:
        """``img_shape`` (when present) must be ``(h, w)``, two positive numbers, for
        ``normalize_2d``."""
        problems = []
        for i, anno in zip(positions, annotations):
            shape = anno.get('img_shape', DEFAULT_IMG_SHAPE) if isinstance(anno, dict) else None
            try:
                ok = len(shape) == 2 and all(float(n) > 0 for n in shape)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                problems.append(
                    f'{self.ann_file}: sample {anno.get("frame_dir")!r} (annotations[{i}]): '
                    f'field "img_shape": expected (h, w), two positive numbers, for '
                    f'normalize_2d, got {shape!r}')
        return problems

    def _with_prefix(self, annotations: List[dict]) -> List[dict]:
        """PoseDataset's ``data_prefix=dict(video=...)`` handling, unchanged: the prefix
        joined in front of ``filename`` and ``frame_dir`` (in place)."""
        if 'video' in self.data_prefix:
            for item in annotations:
                for key in ('filename', 'frame_dir'):
                    if key in item:
                        item[key] = osp.join(self.data_prefix['video'], item[key])
        return annotations

    def load_data_list(self) -> List[Dict]:
        """Load, select the split, repair (if enabled), validate.

        Returns:
            list[dict]: the split's annotations, each a dict with ``keypoint``
            ``(M, T, V, C)``.
        """
        annotations, positions, names = self._select(self._read(), self.split)
        if self.repair:
            self._repair(annotations)
        self._check(annotations, positions, names)
        return self._with_prefix(annotations)

    # ---------------------------------------------------------------- one sample
    def prepare_data(self, idx: int):
        """The pipeline's output; a pipeline error gets the file and split in front."""
        try:
            return super().prepare_data(idx)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise _with_context(error, self._where()) from error
