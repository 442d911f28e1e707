"""Convert PKU-MMD (phase I or II) skeletons and labels to an MMAction2 3D skeleton pickle.

    python tools/data/pku_mmd_to_pkl.py --skeleton-dir DIR --label-dir DIR --out FILE.pkl \\
        --split-file xsub=cross_subject.txt [--split-file xview=cross_view.txt] \\
        [--num-classes 51] [--end-inclusive] [--workers N] [--skip-bad]

PKU-MMD videos are untrimmed: ``<video>.txt`` in the skeleton folder has one line per frame
with 150 numbers (2 bodies x 25 joints x xyz, NTU's joint order, an absent body is zeros),
and the label file of the same name has one ``action,start,end,confidence`` line per
action instance. Every instance becomes one clip::

    dict(frame_dir='<video>_<k>',   # k = 0-based index of the instance in its label file
         label=action - 1, total_frames=T, keypoint=float32 (M, T, 25, 3))

Frames ``start .. end - 1`` are cut, as MAMP's preparation does (``--end-inclusive``
takes ``end`` too). A person is kept when it has any non-zero value in the clip, so a
single actor gives ``M = 1``. Coordinates are kept as recorded; there is no denoising,
centring or resampling. Instances that end past the skeleton file are cut at its end
(counted); instances with no frame or only zeros are skipped (counted; MAMP drops these
too).

Splits come from the official split files (``Split/cross-subject.txt`` ... for phase I,
``cross_subject_v2.txt`` ... for phase II), given as ``NAME=PATH``: each clip goes to
``NAME_train`` or ``NAME_val`` by its video. Use ``xsub`` and ``xview`` as names to get
MMAction2's usual split keys. Both phases label actions 1..51 (phase II uses a subset).
"""
import argparse
import os
import os.path as osp
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.datasets.raw_skeletons import (  # noqa: E402
    SkeletonFormatError,
    pku_persons,
    read_pku_labels,
    read_pku_skeleton,
    read_pku_split,
)
from gfp_mmaction.datasets.skeleton_io import (  # noqa: E402
    add_convert_args,
    add_counts,
    convert_all,
    write_converted,
)

NUM_CLASSES = 51


def convert_video(item: Tuple[str, str, str, int, bool]) -> Tuple[str, List[dict], Dict[str, int]]:
    """``(video, skeleton_path, label_path, num_classes, end_inclusive)`` -> ``(video,
    clips, counts)`` with counts ``instances``, ``truncated``, ``empty``, ``all_zero``."""
    video, skeleton_path, label_path, num_classes, end_inclusive = item
    if not osp.isfile(label_path):
        raise SkeletonFormatError(f'{label_path}: label file missing for {skeleton_path}')
    frames = read_pku_skeleton(skeleton_path)  # (T, 2, 25, 3)
    instances = read_pku_labels(label_path, num_classes)
    stats = dict(instances=len(instances), truncated=0, empty=0, all_zero=0)
    clips = []
    for k, inst in enumerate(instances):
        stop = inst.end + 1 if end_inclusive else inst.end
        if stop > len(frames):
            stats['truncated'] += 1
        clip = frames[inst.start:min(stop, len(frames))]
        if len(clip) == 0:
            stats['empty'] += 1
            continue
        keypoint = pku_persons(clip)  # (M, T, 25, 3)
        if len(keypoint) == 0:
            stats['all_zero'] += 1
            continue
        clips.append(dict(frame_dir=f'{video}_{k}', label=inst.action - 1,
                          total_frames=int(keypoint.shape[1]), keypoint=keypoint))
    return video, clips, stats


def build_pku_annotations(skeleton_dir: str, label_dir: str, split_files: Dict[str, str],
                          num_classes: int = NUM_CLASSES, end_inclusive: bool = False,
                          workers: int = 1, skip_bad: bool = False) -> Tuple[dict, dict]:
    """Convert every ``*.txt`` video of ``skeleton_dir``; ``split_files`` maps a split
    name (``xsub``) to its split file.

    Args:
        skeleton_dir (str): folder of ``<video>.txt`` skeletons.
        label_dir (str): folder of ``<video>.txt`` labels.
        split_files (dict[str, str]): split name -> official split file.
        num_classes (int): labels must be ``1..num_classes``. Defaults to
            ``NUM_CLASSES``.
        end_inclusive (bool): cut frames ``start..end`` (default ``start..end-1``, as
            MAMP). Defaults to False.
        workers (int): processes. Defaults to 1.
        skip_bad (bool): skip malformed videos with a warning instead of failing.
            Defaults to False.

    Returns:
        tuple[dict, dict]: ``(data, stats)``: the pickle's content and counts (``videos``,
        ``clips``, ``bad_skipped``, ``instances``, ``truncated``, ``empty``, ``all_zero``,
        and per split ``<name>_unlisted_videos`` (converted but in neither list) and
        ``<name>_absent_videos`` (listed, no skeleton file)).
    """
    splits = {name: read_pku_split(path) for name, path in split_files.items()}
    videos = sorted(f[:-4] for f in os.listdir(skeleton_dir) if f.endswith('.txt'))
    items = [(v, osp.join(skeleton_dir, f'{v}.txt'), osp.join(label_dir, f'{v}.txt'),
              num_classes, end_inclusive) for v in videos]
    results, skipped = convert_all(convert_video, items, workers=workers, skip_bad=skip_bad,
                                   desc='PKU-MMD videos', unit='video')
    stats = dict(videos=len(videos), bad_skipped=len(skipped))
    annotations, clip_videos = [], []  # clip_videos[i]: the video of annotations[i]
    for video, clips, counts in results:
        annotations.extend(clips)
        clip_videos.extend([video] * len(clips))
        add_counts(stats, counts)
    stats['clips'] = len(annotations)

    split = {}
    converted = set(clip_videos)
    for name, (train, val) in splits.items():
        train, val = set(train), set(val)
        split[f'{name}_train'] = [a['frame_dir'] for a, v in zip(annotations, clip_videos)
                                  if v in train]
        split[f'{name}_val'] = [a['frame_dir'] for a, v in zip(annotations, clip_videos)
                                if v in val]
        stats[f'{name}_unlisted_videos'] = len(converted - train - val)
        stats[f'{name}_absent_videos'] = len((train | val) - set(videos))
    return dict(split=split, annotations=annotations), stats


def _split_arg(text: str) -> Tuple[str, str]:
    name, sep, path = text.partition('=')
    if not sep or not re.fullmatch(r'[A-Za-z0-9]+', name) or not path:
        raise argparse.ArgumentTypeError(f'expected NAME=PATH (e.g. xsub=cross_subject.txt), '
                                         f'got {text!r}')
    return name, path


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert PKU-MMD skeletons and labels to an MMAction2 3D pickle.')
    parser.add_argument('--skeleton-dir', required=True, help='folder of <video>.txt skeletons')
    parser.add_argument('--label-dir', required=True, help='folder of <video>.txt labels')
    parser.add_argument('--split-file', type=_split_arg, action='append', required=True,
                        metavar='NAME=PATH',
                        help='official split file, e.g. xsub=Split/cross-subject.txt '
                        '(repeat for more splits)')
    parser.add_argument('--out', required=True, help='output .pkl')
    parser.add_argument('--num-classes', type=int, default=NUM_CLASSES,
                        help=f'labels must be 1..N (default {NUM_CLASSES})')
    parser.add_argument('--end-inclusive', action='store_true',
                        help='cut frames start..end (default start..end-1, as MAMP)')
    add_convert_args(parser, 'videos')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    names = [n for n, _ in args.split_file]
    if len(set(names)) != len(names):
        print(f'error: --split-file names must differ, got {names}', file=sys.stderr)
        return 1
    for folder in (args.skeleton_dir, args.label_dir):
        if not osp.isdir(folder):
            print(f'error: {folder}: not a folder', file=sys.stderr)
            return 1
    stats = write_converted(
        lambda: build_pku_annotations(
            args.skeleton_dir, args.label_dir, dict(args.split_file), args.num_classes,
            args.end_inclusive, workers=args.workers, skip_bad=args.skip_bad),
        args.out, empty_message=lambda stats: (f'{args.skeleton_dir}: no clip converted '
                                               f'({stats["videos"]} skeleton files found)'),
        summary=lambda stats: (
            f'{stats["clips"]} clips from {stats["videos"]} videos '
            f'({stats["bad_skipped"]} malformed skipped; of {stats.get("instances", 0)} '
            f'instances {stats.get("truncated", 0)} cut at the file end, '
            f'{stats.get("empty", 0) + stats.get("all_zero", 0)} empty skipped)'))
    if stats is None:
        return 1
    for name in names:
        if stats[f'{name}_unlisted_videos'] or stats[f'{name}_absent_videos']:
            print(f'note: split {name}: {stats[f"{name}_unlisted_videos"]} converted videos in '
                  f'neither list, {stats[f"{name}_absent_videos"]} listed videos without a '
                  'skeleton file')
    return 0


if __name__ == '__main__':
    sys.exit(main())
