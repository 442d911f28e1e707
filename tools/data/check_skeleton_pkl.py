"""Validate an MMAction2 skeleton pickle (3D or 2D), say which kind of file it is, print a
summary.

    python tools/data/check_skeleton_pkl.py FILE.pkl [--num-classes N] [--max-errors 50]
        [--layout NAME] [--num-joints V] [--num-coords 2|3]

First the keypoints: 3D or 2D, how many joints, which registered joint layout that count
names (:mod:`gfp_mmaction.utils.joint_layouts`: 25 = ``ntu25``, 17 = ``coco17``), whether
the clips carry ``keypoint_score``, and the dataset settings that read the file. The
joint count and coordinates are the file's most common ones unless ``--layout``,
``--num-joints`` or ``--num-coords`` say otherwise. Then it checks every sample
(required fields, keypoint shape ``(M, T, V, C)``, float dtype, finite values,
``keypoint_score`` ``(M, T, V)``, label range, ``total_frames``, empty clips, persons
per clip) and every split (references to existing samples, repeats, train/val overlap);
see :func:`gfp_mmaction.datasets.validation.validate_annotations`. Prints the kind of
file (:func:`identify_layout`: made by one of this project's converters, MMAction2's own
NTU pickle, 3D or 2D, or unknown) with the features that tell, the summary (clips per
split, classes, length histogram, persons per clip), then each error, naming the sample
(``frame_dir``) and the field.

Exit codes: 0 valid, 1 errors found, 2 file unreadable (missing, not a pickle). The kind
never changes the exit code: MMAction2's pickles are valid input.
"""
import argparse
import pickle
import re
import sys
from collections import Counter
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.datasets.validation import (  # noqa: E402
    REQUIRED_KEYS,
    summarize_annotations,
    validate_annotations,
)
from gfp_mmaction.utils.joint_layouts import LAYOUTS, get_layout, guess_layout  # noqa: E402

# The frame_dir names each converter writes: (naming, pattern, this project's converter).
NAMINGS = (
    ('NTU', re.compile(r'S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}'), 'tools/data/ntu_raw_to_pkl.py'),
    ('PKU-MMD', re.compile(r'[0-9A-Za-z]+-[LMR]_\d+'), 'tools/data/pku_mmd_to_pkl.py'),
    ('npz_to_pkl.py', re.compile(r'[0-9A-Za-z]+_(train|val)_\d{6}'), 'tools/data/npz_to_pkl.py'),
)
DOC = 'docs/data_preparation.md, "MMAction2\'s own pickles"'
DOC_2D = 'docs/data_preparation.md, "2D keypoints"'
FIELDS_2D = ('keypoint_score', 'img_shape', 'original_shape')  # what MMAction2's 2D adds


class Layout(NamedTuple):
    """What :func:`identify_layout` found.

    Attributes:
        kind (str): ``'gfp-mmaction'``, ``'mmaction2'`` or ``'unknown'``.
        producer (str): what made the file, in words (for ``unknown``: why not one of
            the others).
        features (list[str]): the observations the kind rests on.
        note (str): what it means for training ('' when nothing to add).
    """
    kind: str
    producer: str
    features: List[str]
    note: str


def _origin(keypoint: np.ndarray) -> Optional[np.ndarray]:
    """Joint 1 (spine-middle) of the first person present anywhere, at that person's first
    present frame: where ``CentreOnFirstFrame`` puts the origin. None for an empty clip."""
    present = (keypoint != 0).any(axis=(2, 3))  # (M, T)
    persons = np.flatnonzero(present.any(axis=1))
    if not persons.size:
        return None
    m = persons[0]
    return keypoint[m, np.argmax(present[m]), 1].astype(np.float64)


def identify_layout(data) -> Layout:
    """Tell, from its content alone, which program wrote a 3D skeleton annotation dict.

    - ``'gfp-mmaction'``: every keypoint float32, no field besides ``frame_dir``,
      ``label``, ``total_frames``, ``keypoint``, and the names and frames one of the
      converters writes: NTU names with no frame where no body is recorded
      (``ntu_raw_to_pkl.py`` removes those frames), PKU-MMD ``<video>-L|M|R_<k>`` names
      (``pku_mmd_to_pkl.py``) or ``<split>_train|val_NNNNNN`` names (``npz_to_pkl.py``).
    - ``'mmaction2'``: every keypoint float16, exactly those four fields and NTU names:
      MMAction2's ``tools/data/skeleton/gen_ntu_rgbd_raw.py``, which made the
      ``ntu60_3d.pkl`` / ``ntu120_3d.pkl`` of its download page (PYSKL's
      ``ntu_preproc.py`` writes the same layout).
    - ``'mmaction2'`` for a 2D file: ``(M, T, V, 2)`` float16 or float32 keypoints,
      ``keypoint_score`` in every clip, no fields besides the four, ``keypoint_score``,
      ``img_shape`` and ``original_shape``, and NTU names: MMAction2's 2D NTU format
      (MMPose's COCO-17 keypoints; its ``tools/data/skeleton/ntu_pose_extraction.py``
      writes it, the ``ntu60_2d.pkl`` / ``ntu120_2d.pkl`` of its download page hold it).
    - ``'unknown'``: anything else (another dtype, mixed dtypes, other fields such as a
      2D field in a 3D file, other names).

    The features also say how many clips start at the origin (centred on their first
    frame, as MAMP's / CTR-GCN's ``.npz`` files are) and how many hold frames where no
    body is recorded: neither decides the kind, both matter for preprocessing.

    Args:
        data (dict | list): the unpickled file (a dict with ``annotations``, or a bare
            list).

    Returns:
        Layout: the kind, the producer, the features and a note.
    """
    annotations = data.get('annotations') if isinstance(data, dict) else data
    if not isinstance(annotations, (list, tuple)):
        return Layout('unknown', 'no annotation list', [], '')
    annos = [a for a in annotations if isinstance(a, dict)]
    arrays = [a['keypoint'] for a in annos if isinstance(a.get('keypoint'), np.ndarray)
              and a['keypoint'].ndim == 4 and a['keypoint'].shape[-1] == 3]
    flat = [a['keypoint'] for a in annos if isinstance(a.get('keypoint'), np.ndarray)
            and a['keypoint'].ndim == 4 and a['keypoint'].shape[-1] == 2]
    if annos and len(flat) > len(arrays):
        return _identify_2d(annos, flat)
    if not annos or not arrays:
        return Layout('unknown', 'no 3D keypoint arrays', [], '')

    dtypes = Counter(str(k.dtype) for k in arrays)
    fields = sorted(set().union(*(a.keys() for a in annos)) - set(REQUIRED_KEYS))
    names = [a.get('frame_dir') for a in annos]
    naming, converter = _naming(names)
    with_gaps = sum(int(not (k != 0).any(axis=(0, 2, 3)).all()) for k in arrays)
    origins = [_origin(k) for k in arrays]
    centred = sum(int(o is not None and np.abs(o).max() <= 1e-6) for o in origins)

    n = len(arrays)
    features = [
        'keypoint ' + ', '.join(f'{d} in {c} of {n} clips' for d, c in dtypes.most_common()),
        'fields ' + ', '.join(REQUIRED_KEYS + tuple(fields)),
        f'{naming} frame_dir names' if naming else 'frame_dir names of no known converter',
        f'{centred} of {n} clips centred on their first frame',
        f'{with_gaps} of {n} clips hold frames where no body is recorded',
    ]
    only = next(iter(dtypes)) if len(dtypes) == 1 else None

    if only == 'float32' and not fields and (
            (naming == 'NTU' and not with_gaps) or naming in ('PKU-MMD', 'npz_to_pkl.py')):
        return Layout('gfp-mmaction', f"gfp-mmaction's {converter}", features, '')
    if only == 'float16' and not fields and naming == 'NTU':
        return Layout(
            'mmaction2',
            "MMAction2's NTU 3D pickle (its tools/data/skeleton/gen_ntu_rgbd_raw.py, which "
            'made the ntu60_3d.pkl / ntu120_3d.pkl of its download page)', features,
            'the configs read it as it is: SkeletonPoseDataset casts the keypoints to '
            'float32 and the pipeline centres each clip on its first frame. Its bodies are '
            'the two of largest spread, not denoised as ntu_raw_to_pkl.py denoises them, '
            f'and frames with no body stay in the clip: see {DOC}')
    reasons = []
    if only is None:
        reasons.append('mixed keypoint dtypes')
    elif only not in ('float16', 'float32'):
        reasons.append(f'keypoint {only}')
    if fields:
        reasons.append('extra fields ' + ', '.join(fields))
    if not naming:
        reasons.append('frame_dir names of no known converter')
    elif only == 'float16' and naming != 'NTU':
        reasons.append(f'float16 as MMAction2 stores NTU, but {naming} names')
    elif only == 'float32' and naming == 'NTU' and with_gaps:
        reasons.append('float32 NTU clips with frames where no body is recorded, which '
                       'ntu_raw_to_pkl.py removes')
    return Layout('unknown', 'neither gfp-mmaction\'s converters nor MMAction2\'s '
                  'gen_ntu_rgbd_raw.py: ' + '; '.join(reasons), features,
                  'the checks below still apply; SkeletonPoseDataset casts any float '
                  'keypoints to float32')


def _naming(names) -> tuple:
    """``(naming, converter)`` of the first scheme every name follows, else Nones."""
    return next(((label, tool) for label, pattern, tool in NAMINGS
                 if all(isinstance(n, str) and pattern.fullmatch(n) for n in names)),
                (None, None))


def _identify_2d(annos: List[dict], arrays: List[np.ndarray]) -> Layout:
    """:func:`identify_layout` for a file of 2D keypoints."""
    n = len(arrays)
    dtypes = Counter(str(k.dtype) for k in arrays)
    fields = sorted(set().union(*(a.keys() for a in annos)) - set(REQUIRED_KEYS))
    scored = sum(isinstance(a.get('keypoint_score'), np.ndarray) for a in annos)
    joints = Counter(k.shape[2] for k in arrays)
    naming, _ = _naming([a.get('frame_dir') for a in annos])
    with_gaps = sum(int(not (k != 0).any(axis=(0, 2, 3)).all()) for k in arrays)
    shapes = Counter(tuple(a['img_shape']) for a in annos
                     if isinstance(a.get('img_shape'), (tuple, list)))
    features = [
        'keypoint ' + ', '.join(f'{d} in {c} of {n} clips' for d, c in dtypes.most_common()),
        'fields ' + ', '.join(REQUIRED_KEYS + tuple(fields)),
        f'{naming} frame_dir names' if naming else 'frame_dir names of no known converter',
        f'keypoint_score in {scored} of {len(annos)} clips',
        'img_shape ' + (', '.join(f'{s} in {c}' for s, c in shapes.most_common(3))
                        if shapes else 'absent (MMAction2 then assumes (1080, 1920))'),
        f'{with_gaps} of {n} clips hold frames where no body is recorded',
    ]
    only = next(iter(dtypes)) if len(dtypes) == 1 else None
    V = joints.most_common(1)[0][0]
    note = (f'read it with configs/gfp/gfp_ntu60_xsub_2d.py or the dataset settings '
            f"printed above; see {DOC_2D}")
    if only in ('float16', 'float32') and naming == 'NTU' and scored == len(annos) and \
            set(fields) <= set(FIELDS_2D):
        return Layout('mmaction2', f"MMAction2's NTU 2D pickle ({V} keypoints per person; "
                      'its tools/data/skeleton/ntu_pose_extraction.py, MMPose keypoints, '
                      'the format of the ntu60_2d.pkl / ntu120_2d.pkl of its download page)',
                      features, note)
    reasons = []
    if only is None:
        reasons.append('mixed keypoint dtypes')
    elif only not in ('float16', 'float32'):
        reasons.append(f'keypoint {only}')
    if scored < len(annos):
        reasons.append(f'keypoint_score in only {scored} of {len(annos)} clips')
    extra = sorted(set(fields) - set(FIELDS_2D))
    if extra:
        reasons.append('extra fields ' + ', '.join(extra))
    if naming != 'NTU':
        reasons.append(f'{naming} names' if naming else 'frame_dir names of no known converter')
    return Layout('unknown', "2D keypoints, but not MMAction2's NTU 2D format: " +
                  '; '.join(reasons), features, note)


class KeypointFormat(NamedTuple):
    """The keypoints a file holds (:func:`keypoint_format`).

    Attributes:
        num_joints (int): joints per person ``V`` (the most common).
        num_coords (int): coordinates per joint ``C``: 3 (3D) or 2 (2D).
        layout (str, optional): the registered layout with ``V`` joints, if exactly one.
        scored (int): clips with a ``keypoint_score``.
        clips (int): clips with a 4-D keypoint array.
    """
    num_joints: int
    num_coords: int
    layout: Optional[str]
    scored: int
    clips: int

    def describe(self) -> str:
        kind = {3: '3D (x, y, z)', 2: '2D (x, y)'}.get(self.num_coords,
                                                       f'{self.num_coords} coordinates')
        score = f' + keypoint_score in {self.scored} of {self.clips} clips' if self.scored \
            else ''
        layout = f"layout '{self.layout}'" if self.layout else 'no registered layout'
        return f'{kind}{score}, {self.num_joints} joints: {layout}'

    def settings(self) -> str:
        """The dataset settings that read such a file."""
        joints = f"layout='{self.layout}'" if self.layout else f'num_joints={self.num_joints}'
        items = [joints, f'num_coords={self.num_coords}']
        if self.num_coords == 2:
            items += ['with_score=True' if self.scored else 'with_score=False',
                      "normalize_2d='half_height'"]
        return ', '.join(items)


def keypoint_format(data) -> KeypointFormat:
    """The file's keypoints: the most common ``(V, C)`` of its 4-D ``keypoint`` arrays
    (``(25, 3)`` for a file without any)."""
    annotations = data.get('annotations') if isinstance(data, dict) else data
    annos = [a for a in annotations if isinstance(a, dict)] \
        if isinstance(annotations, (list, tuple)) else []
    shapes = Counter(a['keypoint'].shape[2:] for a in annos
                     if isinstance(a.get('keypoint'), np.ndarray) and a['keypoint'].ndim == 4)
    V, C = shapes.most_common(1)[0][0] if shapes else (25, 3)
    layout = guess_layout(V)
    scored = sum(isinstance(a.get('keypoint_score'), np.ndarray) for a in annos)
    return KeypointFormat(V, C, layout.name if layout else None, scored,
                          sum(shapes.values()))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Validate an MMAction2 skeleton pickle (3D or 2D keypoints).')
    parser.add_argument('pkl', help='annotation pickle')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='labels must be 0..N-1 (default: only >= 0 is checked)')
    parser.add_argument('--max-errors', type=int, default=50,
                        help='print at most this many errors (default 50; 0 = all)')
    parser.add_argument('--layout', choices=sorted(LAYOUTS), default=None,
                        help="the joint layout the file must have (default: the file's "
                        'most common joint count)')
    parser.add_argument('--num-joints', type=int, default=None,
                        help='joints per person the file must have (default: as --layout, '
                        "else the file's most common)")
    parser.add_argument('--num-coords', type=int, choices=(2, 3), default=None,
                        help="coordinates per joint, 3 or 2 (default: the file's most "
                        'common)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        with open(args.pkl, 'rb') as f:
            data = pickle.load(f)
    except Exception as e:  # any failure to unpickle means the file is unusable as is
        print(f'error: cannot read {args.pkl}: {type(e).__name__}: {e}', file=sys.stderr)
        return 2
    num_joints = args.num_joints
    if args.layout is not None:
        layout_joints = get_layout(args.layout).num_joints
        if num_joints not in (None, layout_joints):
            print(f'error: --layout {args.layout} has {layout_joints} joints, not '
                  f'--num-joints {num_joints}', file=sys.stderr)
            return 2
        num_joints = layout_joints
    keypoints = keypoint_format(data)
    checked = keypoints._replace(
        num_joints=keypoints.num_joints if num_joints is None else num_joints,
        num_coords=keypoints.num_coords if args.num_coords is None else args.num_coords)
    errors = validate_annotations(data, args.pkl, num_classes=args.num_classes,
                                  num_joints=checked.num_joints,
                                  num_coords=checked.num_coords)
    layout = identify_layout(data)
    print(f'{args.pkl}')
    print(f'keypoints: {keypoints.describe()}')
    print(f'  dataset settings that read it: {keypoints.settings()}')
    if checked[:2] != keypoints[:2]:
        print(f'  checked against {checked.num_joints} joints x {checked.num_coords} '
              'coordinates, as asked')
    print(f'kind: {layout.kind}: {layout.producer}')
    for feature in layout.features:
        print(f'  - {feature}')
    if layout.note:
        print(f'  note: {layout.note}')
    print(summarize_annotations(data))
    if not errors:
        print('OK: no errors')
        return 0
    shown = errors if args.max_errors <= 0 else errors[:args.max_errors]
    for message in shown:
        print(f'error: {message}')
    if len(shown) < len(errors):
        print(f'... and {len(errors) - len(shown)} more errors')
    print(f'FAILED: {len(errors)} errors')
    return 1


if __name__ == '__main__':
    sys.exit(main())
