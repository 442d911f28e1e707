"""Large synthetic sets in little time: a generated set tiled to any number of clips.

A benchmark needs NTU-sized sets (NTU-60 x-sub training: 40,320 clips), where
:func:`generate_synthetic_ntu` is the one generator of clips: :func:`tile_annotations`
repeats a set's clips, every repeat a copy of its own (no two clips share an array, as in
a real annotation file) under a new NTU name, and :func:`bulk_synthetic_ntu` tiles a
generated set.
"""
import re
from typing import Dict

from .writer import generate_synthetic_ntu

__all__ = ['tile_annotations', 'bulk_synthetic_ntu']

_SETUP = re.compile(r'^S(\d{3,})(C\d{3}P\d{3}R\d{3}A\d{3})$')


def tile_annotations(data: Dict, num_clips: int) -> Dict:
    """``num_clips`` clips made of ``data``'s clips, classes interleaved.

    The ``n`` clips of ``data`` are first put in round-robin order of their labels (the
    first clip of every label by label, then the second of every label, ...; ties keep
    their order), then clip ``i`` of the result is a copy of clip ``i % n`` of that order,
    renamed by its repeat ``r = i // n``: setup ``s`` becomes ``r * S + s``, ``S`` being the
    largest setup in ``data``. Labels, lengths and keypoint values are the copied clip's; a
    copy belongs to the splits of its clip.

    Args:
        data (dict): an NTU-style annotation dict (``split``, ``annotations``) whose
            ``frame_dir`` are unique NTU names ``SsssCcccPpppRrrrAaaa``.
        num_clips (int): clips of the result (>= 1).

    Returns:
        dict: ``dict(split=..., annotations=[...])`` with ``num_clips`` uniquely named
        clips; every ``keypoint`` is a fresh array.
    """
    if isinstance(num_clips, bool) or not isinstance(num_clips, int) or num_clips < 1:
        raise ValueError(f'tile_annotations: num_clips must be an integer >= 1, '
                         f'got {num_clips!r}')
    annotations = data['annotations']
    if not annotations:
        raise ValueError('tile_annotations: the set to tile has no clips')
    names = []
    for anno in annotations:
        match = _SETUP.match(anno['frame_dir'])
        if match is None:
            raise ValueError(f'tile_annotations: {anno["frame_dir"]!r} is not an NTU name '
                             'SsssCcccPpppRrrrAaaa')
        names.append((int(match.group(1)), match.group(2)))
    rank, per_label = [], {}  # rank of each clip among the clips of its label
    for anno in annotations:
        rank.append(per_label.get(anno['label'], 0))
        per_label[anno['label']] = rank[-1] + 1
    order = sorted(range(len(annotations)), key=lambda i: (rank[i], annotations[i]['label']))
    setups = max(setup for setup, _ in names)
    splits_of = {}
    for split, members in data.get('split', {}).items():
        for name in members:
            splits_of.setdefault(name, []).append(split)

    out = dict(split={split: [] for split in data.get('split', {})}, annotations=[])
    for i in range(num_clips):
        repeat, k = divmod(i, len(order))
        anno = annotations[order[k]]
        setup, rest = names[order[k]]
        name = f'S{repeat * setups + setup:03d}{rest}'
        out['annotations'].append(dict(anno, frame_dir=name, keypoint=anno['keypoint'].copy()))
        for split in splits_of.get(anno['frame_dir'], ()):
            out['split'][split].append(name)
    return out


def bulk_synthetic_ntu(num_clips: int, seed: int = 0, **kwargs) -> Dict:
    """:func:`generate_synthetic_ntu` once, tiled to ``num_clips`` clips
    (:func:`tile_annotations`).

    The generated set is all 18 classes x 8 subjects x 3 views x 2 reps (864 clips, made
    in about a second) unless ``kwargs`` say otherwise; the clips of 5 of the 18 classes
    (the interactions) have two persons.

    Args:
        num_clips (int): clips of the result (>= 1).
        seed (int): the generator's seed. Defaults to 0.
        **kwargs: further arguments of :func:`generate_synthetic_ntu` (``min_frames``,
            ``max_frames``, ``num_classes``, ``subjects``, ...).

    Returns:
        dict: ``dict(split=..., annotations=[...])`` in MMAction2's NTU 3D format; setups
        ``S001`` are the generated clips, ``S002`` on their first repeat, and so on.
    """
    if isinstance(num_clips, bool) or not isinstance(num_clips, int) or num_clips < 1:
        raise ValueError(f'bulk_synthetic_ntu: num_clips must be an integer >= 1, '
                         f'got {num_clips!r}')
    options = dict(num_classes=18, subjects=8, views=3, reps=2)
    options.update(kwargs)
    return tile_annotations(generate_synthetic_ntu(seed=seed, **options), num_clips)
