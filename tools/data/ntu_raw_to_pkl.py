"""Convert NTU RGB+D 60 / 120 raw ``.skeleton`` files to an MMAction2 3D skeleton pickle.

    python tools/data/ntu_raw_to_pkl.py --raw-dir DIR --out FILE.pkl --dataset ntu60|ntu120
        [--missing-list FILE] [--workers N] [--skip-bad]

Output (MMAction2's NTU 3D format)::

    dict(split=dict(xsub_train=[...], xsub_val=[...], xview_train=[...], xview_val=[...]),
         annotations=[dict(frame_dir='S001C001P001R001A001', label=0, total_frames=T,
                           keypoint=float32 (M, T, 25, 3)), ...])

NTU-120 has ``xset_*`` instead of ``xview_*``. ``label = A - 1``. Coordinates are the raw
camera-frame metres: no centring or normalisation (the data pipeline does that).
``M`` is 1 or 2; ``T`` counts the frames left after denoising (no padding).

Splits come from the file name ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer,
replication, action): x-sub trains on the official performer list, NTU-60 x-view on
cameras 2 and 3, NTU-120 x-set on even setups. ``ntu60`` takes setups 1-17 and actions
1-60 only; other files in the folder are counted and left out.

Denoising (SGN's rules as used by MAMP, simplified), per file:

1. Missing joints: a body's frame where more than half of the 25 joints are exactly
   (0, 0, 0) counts as not recorded (Kinect lost the body there).
2. Length: a body recorded in <= 11 frames is noise (a flicker of the tracker).
3. Spread: a frame of a body is noisy when its x-extent exceeds 0.8 x its y-extent (a
   standing person is taller than wide; wide-and-flat is furniture or a reflection).
   A body whose frames are noisy in >= 69.754 % of its frames is dropped.
4. Motion: the remaining bodies are ranked by motion energy, the sum over joints and
   xyz of the variance over time of the position (a static object scores ~0).
5. Tracks: in that order, each body joins actor 1 if it never overlaps actor 1's frame
   span (the tracker gave the same person a new id), else actor 2 if it does not overlap
   actor 2's span, else it is dropped. So at most 2 actors are kept, the most moving
   first, and a person split over two ids becomes one track.
6. Frames where no kept actor is recorded are removed.

Steps 2 and 3 never remove the last body: if all would go, the longest (step 2) or least
noisy (step 3) one stays. Thresholds are SGN's (``noise_len_thres``,
``noise_spr_thres1``, ``noise_spr_thres2``). Differences from SGN: the motion energy is
per-joint variance over time (SGN pools all joints, so a still person's body extent
counts as motion); SGN's low/high motion thresholds are not applied (SGN disables them
too); frames with mostly-missing joints (step 1) are an addition.
"""
import argparse
import os
import os.path as osp
import re
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
# The denoising rule (steps 1-6 above) lives in the package, shared with tools/inference.py.
from gfp_mmaction.datasets.raw_skeletons import SkeletonFormatError, denoise_ntu, read_ntu_skeleton  # noqa: E402
from gfp_mmaction.datasets.skeleton_io import (  # noqa: E402
    add_convert_args,
    add_counts,
    convert_all,
    write_converted,
)

NTU60_XSUB_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34,
                             35, 38)
NTU60_XVIEW_TRAIN_CAMERAS = (2, 3)
NTU120_XSUB_TRAIN_SUBJECTS = NTU60_XSUB_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
    89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
DATASETS = {'ntu60': dict(setups=17, actions=60), 'ntu120': dict(setups=32, actions=120)}

_NAME = re.compile(r'^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})$')


def parse_ntu_name(name: str) -> Dict[str, int]:
    """``'S001C002P003R002A013'`` -> ``dict(setup=1, camera=2, performer=3,
    replication=2, action=13)``."""
    match = _NAME.match(name)
    if match is None:
        raise SkeletonFormatError(f'file name {name!r} does not follow NTU\'s '
                                  'SsssCcccPpppRrrrAaaa pattern')
    keys = ('setup', 'camera', 'performer', 'replication', 'action')
    return dict(zip(keys, map(int, match.groups())))


def ntu_splits(names: Sequence[str], dataset: str) -> Dict[str, List[str]]:
    """Official splits from the names: ``xsub_*`` and ``xview_*`` (ntu60) or ``xset_*``
    (ntu120); lists keep the order of ``names``."""
    subjects = NTU60_XSUB_TRAIN_SUBJECTS if dataset == 'ntu60' else NTU120_XSUB_TRAIN_SUBJECTS
    second = 'xview' if dataset == 'ntu60' else 'xset'
    split = {f'{b}_{p}': [] for b in ('xsub', second) for p in ('train', 'val')}
    for name in names:
        info = parse_ntu_name(name)
        split['xsub_train' if info['performer'] in subjects else 'xsub_val'].append(name)
        if dataset == 'ntu60':
            train = info['camera'] in NTU60_XVIEW_TRAIN_CAMERAS
        else:
            train = info['setup'] % 2 == 0
        split[f'{second}_train' if train else f'{second}_val'].append(name)
    return split


def convert_file(item: Tuple[str, int]) -> Tuple[dict, Dict[str, int]]:
    """``(path, label)`` -> ``(annotation, denoising counts)``."""
    path, label = item
    keypoint, stats = denoise_ntu(read_ntu_skeleton(path), path)
    name = osp.splitext(osp.basename(path))[0]
    anno = dict(frame_dir=name, label=label, total_frames=int(keypoint.shape[1]),
                keypoint=keypoint)
    return anno, stats


def read_missing_list(path: str) -> List[str]:
    """Sample names, one per line (``.skeleton`` suffix optional, ``#`` comments)."""
    names = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            name = line.split('#')[0].strip()
            if name:
                names.append(name[:-len('.skeleton')] if name.endswith('.skeleton') else name)
    return names


def build_ntu_annotations(raw_dir: str, dataset: str, missing: Iterable[str] = (),
                          workers: int = 1, skip_bad: bool = False) -> Tuple[dict, dict]:
    """Convert every ``*.skeleton`` file of ``raw_dir`` that belongs to ``dataset``.

    Args:
        raw_dir (str): folder with the ``.skeleton`` files.
        dataset (str): ``'ntu60'`` or ``'ntu120'``.
        missing (Iterable[str]): samples without skeletons, skipped. Defaults to ``()``.
        workers (int): processes. Defaults to 1.
        skip_bad (bool): skip malformed files with a warning instead of failing.
            Defaults to False.

    Returns:
        tuple[dict, dict]: ``(data, stats)``: the pickle's content and counts (``files``,
        ``converted``, ``missing_skipped``, ``outside_dataset``, ``bad_skipped`` plus the
        summed denoising counts of :func:`denoise_ntu`).
    """
    if dataset not in DATASETS:
        raise ValueError(f'dataset must be one of {sorted(DATASETS)}, got {dataset!r}')
    limits = DATASETS[dataset]
    missing = set(missing)
    files = sorted(f for f in os.listdir(raw_dir) if f.endswith('.skeleton'))
    stats = dict(files=len(files), missing_skipped=0, outside_dataset=0)
    items, bad_names = [], []
    for filename in files:
        name = filename[:-len('.skeleton')]
        if name in missing:
            stats['missing_skipped'] += 1
            continue
        try:
            info = parse_ntu_name(name)
        except SkeletonFormatError as e:
            if not skip_bad:
                raise SkeletonFormatError(f'{osp.join(raw_dir, filename)}: {e}') from None
            print(f'warning: skipped: {osp.join(raw_dir, filename)}: {e}', file=sys.stderr)
            bad_names.append(filename)
            continue
        if not (1 <= info['setup'] <= limits['setups']
                and 1 <= info['action'] <= limits['actions']):
            stats['outside_dataset'] += 1
            continue
        items.append((osp.join(raw_dir, filename), info['action'] - 1))

    results, skipped = convert_all(convert_file, items, workers=workers, skip_bad=skip_bad,
                                   desc=f'{dataset} skeletons')
    annotations = [anno for anno, _ in results]
    for _, counts in results:
        add_counts(stats, counts)
    stats.update(converted=len(annotations), bad_skipped=len(skipped) + len(bad_names))
    split = ntu_splits([a['frame_dir'] for a in annotations], dataset)
    return dict(split=split, annotations=annotations), stats


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert NTU RGB+D raw .skeleton files to an MMAction2 3D pickle.')
    parser.add_argument('--raw-dir', required=True, help='folder with the .skeleton files')
    parser.add_argument('--out', required=True, help='output .pkl')
    parser.add_argument('--dataset', required=True, choices=sorted(DATASETS))
    parser.add_argument('--missing-list',
                        help='file listing samples without skeletons (one name per line, e.g. '
                        'NTU_RGBD_samples_with_missing_skeletons.txt); they are skipped')
    add_convert_args(parser, 'files')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.isdir(args.raw_dir):
        print(f'error: --raw-dir {args.raw_dir}: not a folder', file=sys.stderr)
        return 1

    def build():
        missing = read_missing_list(args.missing_list) if args.missing_list else []
        return build_ntu_annotations(args.raw_dir, args.dataset, missing,
                                     workers=args.workers, skip_bad=args.skip_bad)

    stats = write_converted(
        build, args.out,
        empty_message=lambda stats: (f'{args.raw_dir}: no {args.dataset} sample converted '
                                     f'({stats["files"]} .skeleton files found)'),
        summary=lambda stats: (
            f'{stats["converted"]} clips from {stats["files"]} files '
            f'({stats["missing_skipped"]} listed as missing, {stats["outside_dataset"]} '
            f'outside {args.dataset}, {stats["bad_skipped"]} malformed skipped)'))
    if stats is None:
        return 1
    print('denoising: ' + ', '.join(f'{k} {stats.get(k, 0)}' for k in (
        'dropped_length', 'dropped_spread', 'dropped_overlap', 'merged', 'dropped_frames')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
