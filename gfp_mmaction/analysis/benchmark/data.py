"""The benchmark's data: synthetic annotation files of NTU-60 x-sub training's size,
made by the project's one generator (:mod:`gfp_mmaction.testing.synthetic`) and cached."""
import hashlib
import os
import os.path as osp
import pickle
import sys
from pathlib import Path
from typing import Dict

from ...testing import synthetic
from ...testing.synthetic.bulk import bulk_synthetic_ntu
from ...utils.atomic_io import atomic_write

__all__ = ['NTU60_XSUB_TRAIN_CLIPS', 'generator_fingerprint', 'training_set',
           'annotation_file']

NTU60_XSUB_TRAIN_CLIPS = 40320
SHORTEST_NTU_CLIP = 32  # NTU-60's clips have 32 to 300 frames


# The modules whose code decides the clips of :func:`training_set`.
SOURCES = ('kinematics.py', 'actions.py', 'writer.py', 'bulk.py')


def generator_fingerprint() -> str:
    """Eight hex digits of the generator's code (:data:`SOURCES` of the synthetic package
    and this module): a cached file made by other code has another name and is not
    reused.

    Returns:
        str: the first 8 digits of a SHA-1 over the source files.
    """
    digest = hashlib.sha1()
    folder = Path(synthetic.__file__).parent
    for path in [folder / name for name in SOURCES] + [Path(__file__)]:
        digest.update(path.name.encode() + b'\0' + path.read_bytes())
    return digest.hexdigest()[:8]


def training_set(num_clips: int, max_frames: int = 300, seed: int = 0) -> Dict:
    """``num_clips`` synthetic clips, all of them in the training splits.

    :func:`gfp_mmaction.testing.synthetic.bulk.bulk_synthetic_ntu` with clip lengths in
    ``[min(32, max_frames), max_frames]``; every clip is in ``xsub_train`` and
    ``xview_train`` (the ``*_val`` splits are empty), so that a pre-training config reads
    all of them.

    Args:
        num_clips (int): clips (>= 1).
        max_frames (int): longest clip (>= 8).
        seed (int): the generator's seed.

    Returns:
        dict: ``dict(split=..., annotations=[...])`` in MMAction2's NTU 3D format.
    """
    data = bulk_synthetic_ntu(num_clips, seed=seed, max_frames=max_frames,
                              min_frames=min(SHORTEST_NTU_CLIP, max_frames))
    names = [anno['frame_dir'] for anno in data['annotations']]
    data['split'] = dict(xsub_train=names, xsub_val=[], xview_train=list(names),
                         xview_val=[])
    return data


def annotation_file(num_clips: int, max_frames: int, seed: int, cache_dir: str) -> str:
    """The cached :func:`training_set` pickle, written (atomically) when missing.

    Args:
        num_clips (int): clips (>= 1).
        max_frames (int): longest clip (>= 8).
        seed (int): the generator's seed.
        cache_dir (str): folder of the cached files (created if absent).

    Returns:
        str: ``cache_dir/synthetic_ntu_<fingerprint>_<N>clips_<F>frames_seed<S>.pkl``.
    """
    os.makedirs(cache_dir, exist_ok=True)
    path = osp.join(cache_dir, f'synthetic_ntu_{generator_fingerprint()}_{num_clips}clips_'
                    f'{max_frames}frames_seed{seed}.pkl')
    if osp.isfile(path):
        return path
    print(f'benchmark: writing {num_clips} synthetic clips to {path}', file=sys.stderr,
          flush=True)
    data = training_set(num_clips, max_frames, seed)
    atomic_write(path, lambda f: pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL))
    return path
