"""Checks and a summary for MMAction2 skeleton annotation data (the pickle's content).

The data is MMAction2's skeleton format, 3D (NTU's 25 joints, ``C = 3``) or 2D (e.g.
MMPose's COCO-17 keypoints, ``C = 2``, with a ``keypoint_score`` per joint)::

    dict(split=dict(xsub_train=[frame_dir, ...], ...),
         annotations=[dict(frame_dir=str, label=int, total_frames=int,
                           keypoint=float (M, T, V, C),
                           keypoint_score=float (M, T, V),  # 2D files
                           img_shape=(h, w), ...), ...])

or a bare list of annotations. numpy only, so the data tools can use it without the models.
"""
from collections import Counter
from numbers import Integral
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..utils.joint_layouts import guess_layout

__all__ = ['REQUIRED_KEYS', 'validate_annotations', 'summarize_annotations', 'shape_hint']

REQUIRED_KEYS = ('frame_dir', 'label', 'total_frames', 'keypoint')
_MAX_NAMES = 5  # sample names quoted per split error


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _names(names: Sequence[str]) -> str:
    names = sorted(names)
    more = f' and {len(names) - _MAX_NAMES} more' if len(names) > _MAX_NAMES else ''
    return ', '.join(repr(n) for n in names[:_MAX_NAMES]) + more


def _annotations(data):
    """The annotation list of ``data`` (dict or list), or ``None``."""
    if isinstance(data, dict):
        data = data.get('annotations')
    return data if isinstance(data, (list, tuple)) else None


def shape_hint(num_joints: int, num_coords: int, expected_joints: int,
               expected_coords: int) -> str:
    """What to set so that keypoints of ``num_joints x num_coords`` are read: ``''`` when
    they are the expected ones, else e.g. ``"; a 2D file of 17 joints: set the dataset's
    layout='coco17' (num_joints=17), num_coords=2 ..."``."""
    settings = []
    if num_joints != expected_joints:
        layout = guess_layout(num_joints)
        settings.append(f"layout='{layout.name}' (num_joints={num_joints})" if layout
                        else f'num_joints={num_joints} (or a layout of yours)')
    if num_coords != expected_coords:
        settings.append(f'num_coords={num_coords}')
    if not settings:
        return ''
    kind = {2: '2D', 3: '3D'}.get(num_coords, f'{num_coords}-coordinate')
    example = ' as configs/gfp/gfp_ntu60_xsub_2d.py does' if num_coords == 2 else ''
    return (f"; a {kind} file of {num_joints} joints: set the dataset's "
            f"{', '.join(settings)}{example}")


def _check_sample(i: int, anno, where: str, num_classes: Optional[int], num_joints: int,
                  num_coords: int, max_persons: int, require_score: bool = False) -> List[str]:
    """Errors of one annotation; ``where`` is the file name."""
    if not isinstance(anno, dict):
        return [f'{where}: annotations[{i}]: expected a dict, got {type(anno).__name__}']
    name = anno.get('frame_dir')
    sample = f'{where}: sample {name!r} (annotations[{i}])'
    errors = [f'{sample}: missing field "{key}"' for key in REQUIRED_KEYS if key not in anno]
    if 'frame_dir' in anno and (not isinstance(name, str) or not name):
        errors.append(f'{sample}: field "frame_dir": expected a non-empty str, got {name!r}')

    label = anno.get('label')
    if 'label' in anno:
        if not _is_int(label):
            errors.append(f'{sample}: field "label": expected an int, got '
                          f'{type(label).__name__} {label!r}')
        elif label < 0 or (num_classes is not None and label >= num_classes):
            upper = f'{num_classes - 1}' if num_classes is not None else '...'
            errors.append(f'{sample}: field "label": expected 0..{upper}, got {label}')

    kp = anno.get('keypoint')
    if 'keypoint' in anno:
        if not isinstance(kp, np.ndarray):
            errors.append(f'{sample}: field "keypoint": expected a numpy array, got '
                          f'{type(kp).__name__}')
            kp = None
        elif kp.ndim != 4 or kp.shape[2] != num_joints or kp.shape[3] != num_coords:
            hint = shape_hint(kp.shape[2], kp.shape[3], num_joints, num_coords) \
                if kp.ndim == 4 else ''
            errors.append(f'{sample}: field "keypoint": expected shape (M, T, {num_joints}, '
                          f'{num_coords}), got {kp.shape}{hint}')
            kp = None
        elif not np.issubdtype(kp.dtype, np.floating):
            errors.append(f'{sample}: field "keypoint": expected a float dtype (float32), got '
                          f'{kp.dtype}')
            kp = None
    if kp is not None:
        M, T = kp.shape[:2]
        if M == 0 or T == 0:
            errors.append(f'{sample}: field "keypoint": empty clip, shape {kp.shape}')
        else:
            if M > max_persons:
                errors.append(f'{sample}: field "keypoint": expected at most {max_persons} '
                              f'persons, got {M}')
            finite = np.isfinite(kp)
            if not finite.all():
                m, t = np.argwhere(~finite)[0][:2]
                errors.append(f'{sample}: field "keypoint": non-finite value (person {m}, '
                              f'frame {t})')
            empty = np.flatnonzero(~(kp != 0).any(axis=(1, 2, 3)))
            if empty.size:
                errors.append(f'{sample}: field "keypoint": person(s) {empty.tolist()} all '
                              'zeros; absent persons must not be stored')

    total = anno.get('total_frames')
    if 'total_frames' in anno:
        if not _is_int(total) or total <= 0:
            errors.append(f'{sample}: field "total_frames": expected a positive int, got '
                          f'{total!r}')
        elif kp is not None and total != kp.shape[1]:
            errors.append(f'{sample}: field "total_frames": expected {kp.shape[1]} (frames in '
                          f'"keypoint"), got {total}')

    score = anno.get('keypoint_score')
    if score is not None and kp is not None:
        if not isinstance(score, np.ndarray) or score.shape != kp.shape[:3]:
            errors.append(f'{sample}: field "keypoint_score": expected shape {kp.shape[:3]}, '
                          f'got {getattr(score, "shape", type(score).__name__)} (one score '
                          'per joint of "keypoint")')
        elif not np.issubdtype(score.dtype, np.floating):
            errors.append(f'{sample}: field "keypoint_score": expected a float dtype, got '
                          f'{score.dtype}')
        elif not np.isfinite(score).all():
            m, t = np.argwhere(~np.isfinite(score))[0][:2]
            errors.append(f'{sample}: field "keypoint_score": non-finite value (person {m}, '
                          f'frame {t})')
    elif require_score and kp is not None:
        errors.append(f'{sample}: missing field "keypoint_score" (M, T, V), which '
                      'with_score=True appends as a channel; set with_score=False to train '
                      'on the coordinates alone')
    return errors


def validate_annotations(data, ann_file: str = '<annotations>',
                         num_classes: Optional[int] = None, num_joints: int = 25,
                         num_coords: int = 3, max_persons: int = 2,
                         positions: Optional[Sequence[int]] = None,
                         require_score: bool = False) -> List[str]:
    """Check skeleton annotation data; return one message per problem (empty = valid).

    Per sample: the fields ``frame_dir`` (non-empty str, unique), ``label`` (int in
    ``0..num_classes-1``; only ``>= 0`` when ``num_classes`` is None), ``keypoint``
    (float ndarray ``(M, T, num_joints, num_coords)`` with ``1 <= M <= max_persons``,
    ``T >= 1``, finite, no all-zero person), ``total_frames`` (``== T``), and
    ``keypoint_score`` ``(M, T, V)`` when present. Per split: a dict of lists of
    ``frame_dir`` strings that exist, without repeats, and ``<name>_train`` disjoint
    from ``<name>_val`` / ``<name>_test``. ``keypoint_score``, when present (or always,
    with ``require_score``), must be a finite float ``(M, T, V)`` array matching
    ``keypoint``. A ``keypoint`` of another joint count or coordinate number is reported
    with what to set to read it (e.g. a 2D COCO-17 file: ``layout='coco17'``,
    ``num_coords=2``).

    Messages name the file, the sample (``frame_dir`` and index) or split, the field,
    what was expected and what was found. ``positions`` gives each annotation's index in
    the file when ``data`` holds only some of them (the messages then quote those).
    """
    where = ann_file
    if isinstance(data, dict):
        if 'annotations' not in data:
            return [f'{where}: missing key "annotations" (found {sorted(map(str, data))})']
    elif not isinstance(data, (list, tuple)):
        return [f'{where}: expected a dict with "split" and "annotations" or a list of '
                f'annotations, got {type(data).__name__}']
    annos = _annotations(data)
    if annos is None:
        return [f'{where}: "annotations": expected a list, got '
                f'{type(data["annotations"]).__name__}']

    if positions is not None and len(positions) != len(annos):
        raise ValueError(f'{len(positions)} positions for {len(annos)} annotations')
    errors: List[str] = []
    first_index: Dict[str, int] = {}
    for i, anno in zip(positions if positions is not None else range(len(annos)), annos):
        errors += _check_sample(i, anno, where, num_classes, num_joints, num_coords,
                                max_persons, require_score)
        name = anno.get('frame_dir') if isinstance(anno, dict) else None
        if isinstance(name, str):
            if name in first_index:
                errors.append(f'{where}: sample {name!r} (annotations[{i}]): field '
                              f'"frame_dir": duplicate of annotations[{first_index[name]}]')
            else:
                first_index[name] = i

    split = data.get('split') if isinstance(data, dict) else None
    if isinstance(data, dict) and 'split' in data:
        if not isinstance(split, dict):
            return errors + [f'{where}: "split": expected a dict of lists, got '
                             f'{type(split).__name__}']
        members = {}
        for key, names in split.items():
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                errors.append(f'{where}: split {key!r}: expected a list of frame_dir strings')
                continue
            members[key] = set(names)
            repeats = [n for n, c in Counter(names).items() if c > 1]
            if repeats:
                errors.append(f'{where}: split {key!r}: {len(repeats)} samples listed twice: '
                              f'{_names(repeats)}')
            unknown = members[key] - first_index.keys()
            if unknown:
                errors.append(f'{where}: split {key!r}: {len(unknown)} samples not in '
                              f'"annotations": {_names(unknown)}')
        for key in members:
            if key.endswith('_train'):
                for other in (key[:-6] + '_val', key[:-6] + '_test'):
                    shared = members[key] & members.get(other, set())
                    if shared:
                        errors.append(f'{where}: splits {key!r} and {other!r} share '
                                      f'{len(shared)} samples: {_names(shared)}')
    return errors


def summarize_annotations(data) -> str:
    """A short text summary: clips per split, classes, length histogram, persons per
    clip, dtypes. Malformed entries are skipped, so it also works on invalid data."""
    annos = [a for a in (_annotations(data) or []) if isinstance(a, dict)]
    lines = [f'clips: {len(annos)}']
    split = data.get('split') if isinstance(data, dict) else None
    if isinstance(split, dict):
        lines.append('splits: ' + ', '.join(
            f'{k} {len(v) if isinstance(v, (list, tuple)) else "?"}' for k, v in split.items()))
    labels = [a['label'] for a in annos if _is_int(a.get('label'))]
    if labels:
        per_class = Counter(labels)
        lines.append(f'classes: {len(per_class)} (labels {min(labels)}..{max(labels)}; clips per '
                     f'class {min(per_class.values())}..{max(per_class.values())})')
    arrays = [a['keypoint'] for a in annos
              if isinstance(a.get('keypoint'), np.ndarray) and a['keypoint'].ndim == 4]
    if arrays:
        lengths = np.array([k.shape[1] for k in arrays])
        edges = [0, 32, 64, 128, 256, 512]
        bins = [f'{lo + 1}-{hi}: {int(((lengths > lo) & (lengths <= hi)).sum())}'
                for lo, hi in zip(edges[:-1], edges[1:])]
        bins.append(f'>{edges[-1]}: {int((lengths > edges[-1]).sum())}')
        lines.append(f'frames: min {lengths.min()}, mean {lengths.mean():.1f}, max '
                     f'{lengths.max()}; histogram ' + ', '.join(bins))
        persons = Counter(k.shape[0] for k in arrays)
        lines.append('persons per clip: ' + ', '.join(
            f'{m}: {persons[m]}' for m in sorted(persons)))
        dtypes = Counter(str(k.dtype) for k in arrays)
        lines.append('keypoint dtype: ' + ', '.join(f'{d} ({n})' for d, n in dtypes.items()))
        shapes = Counter(k.shape[2:] for k in arrays)
        described = []
        for (V, C), n in shapes.most_common():
            layout = guess_layout(V)
            kind = {2: '2D', 3: '3D'}.get(C, f'{C} coordinates')
            described.append(f'{V} joints ({layout.name if layout else "no known layout"}) x '
                             f'{C} ({kind}) in {n}')
        scores = sum(isinstance(a.get('keypoint_score'), np.ndarray) for a in annos)
        lines.append('keypoint joints x coordinates: ' + ', '.join(described) +
                     f'; keypoint_score in {scores} of {len(annos)} clips')
    return '\n'.join(lines)
