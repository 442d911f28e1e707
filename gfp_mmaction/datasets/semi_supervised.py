"""The semi-supervised protocol's labelled subset: a stratified, seed-determined draw.

The subset depends only on ``(subset_seed, the split's frame_dirs and labels)``: no
global random state, no file order, no hash order. Every rank of a distributed run, and
every run with the same seed, therefore trains on the same samples without any
communication; ``LabelledSubsetHook`` (``gfp_mmaction.engine.hooks``) records them in the
work dir.
"""
from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np
from mmaction.registry import DATASETS
from mmengine.logging import print_log

from ..utils.atomic_io import atomic_write
from .skeleton_dataset import SkeletonPoseDataset

__all__ = ['stratified_subset', 'SemiSupervisedPoseDataset', 'read_subset']


def stratified_subset(frame_dirs: Sequence[str], labels: Sequence[int], fraction: float,
                      seed: int) -> List[str]:
    """Draw ``fraction`` of the samples, class by class, every class keeping at least one.

    Class ``c`` with ``n_c`` samples gets ``max(1, floor(fraction * n_c))``; the samples
    still missing to reach ``round(fraction * n)`` in total go one each to the classes with
    the largest remainders ``fraction * n_c - floor(fraction * n_c)`` (ties: lower class
    id). Within a class, samples are taken in the order of a ``numpy`` permutation seeded
    by ``(seed, class)`` of the class's sorted ``frame_dir``s.

    Args:
        frame_dirs (Sequence[str]): sample names, unique.
        labels (Sequence[int]): class of each sample.
        fraction (float): in ``(0, 1]``.
        seed (int): non-negative integer.

    Returns:
        list[str]: the chosen ``frame_dir``s, sorted.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f'labelled_fraction must lie in (0, 1], got {fraction!r}')
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'subset_seed must be a non-negative integer, got {seed!r}')
    if len(frame_dirs) != len(labels):
        raise ValueError(f'{len(frame_dirs)} frame_dirs but {len(labels)} labels')
    if len(set(frame_dirs)) != len(frame_dirs):
        raise ValueError('frame_dirs are not unique: the subset would be ambiguous')
    by_class: Dict[int, List[str]] = defaultdict(list)
    for name, label in zip(frame_dirs, labels):
        if int(label) != label or label < 0:
            raise ValueError(f'sample {name!r}: label must be a non-negative integer, '
                             f'got {label!r}')
        by_class[int(label)].append(name)
    classes = sorted(by_class)
    sizes = np.array([len(by_class[c]) for c in classes])
    quota = fraction * sizes
    take = np.minimum(sizes, np.maximum(1, np.floor(quota).astype(int)))
    short = int(round(fraction * len(frame_dirs))) - int(take.sum())
    if short > 0:
        remainder = np.where(take < sizes, quota - take, -np.inf)
        order = np.lexsort((np.arange(len(classes)), -remainder))  # largest first, stable
        for i in order[:short]:
            if remainder[i] > -np.inf:
                take[i] += 1
    chosen = []
    for c, k in zip(classes, take):
        names = sorted(by_class[c])
        permutation = np.random.default_rng([int(seed), c]).permutation(len(names))
        chosen.extend(names[i] for i in permutation[:k])
    return sorted(chosen)


@DATASETS.register_module()
class SemiSupervisedPoseDataset(SkeletonPoseDataset):
    """:class:`SkeletonPoseDataset` restricted to a labelled subset of its split.

    The whole split is validated at load, exactly as :class:`SkeletonPoseDataset`
    validates it (a broken sample is an :class:`AnnotationError` naming the file, the
    sample and the field, whether or not the draw would keep it), then the subset is
    drawn from it.

    Args:
        labelled_fraction (float): share of the split kept, e.g. 0.01 or 0.1
            (:func:`stratified_subset`: every class keeps at least one sample).
        subset_seed (int): the draw's seed; the same seed gives the same subset
            everywhere. Defaults to 0.
        **kwargs: :class:`SkeletonPoseDataset`'s arguments (``ann_file``, ``split``,
            ``pipeline``, ``num_classes``, ``repair``, ...).

    Attributes:
        labelled_frame_dirs (list[str]): the chosen ``frame_dir``s, sorted (set on
            loading).
        split_size (int): samples in the whole split.
    """

    def __init__(self, labelled_fraction: float, subset_seed: int = 0, **kwargs) -> None:
        if not 0.0 < labelled_fraction <= 1.0:
            raise ValueError(f'SemiSupervisedPoseDataset: labelled_fraction must lie in '
                             f'(0, 1], got {labelled_fraction!r}')
        self.labelled_fraction = float(labelled_fraction)
        self.subset_seed = subset_seed
        self.labelled_frame_dirs: List[str] = []
        self.split_size = 0
        super().__init__(**kwargs)

    def load_data_list(self) -> List[Dict]:
        """The validated split (every sample has a ``frame_dir`` and a ``label``), then the
        labelled subset of it, in file order."""
        data_list = super().load_data_list()
        chosen = stratified_subset([info['frame_dir'] for info in data_list],
                                   [info['label'] for info in data_list],
                                   self.labelled_fraction, self.subset_seed)
        self.labelled_frame_dirs, self.split_size = chosen, len(data_list)
        keep = set(chosen)
        print_log(f'{self.ann_file} split {self.split}: {len(chosen)} of {len(data_list)} '
                  f'samples labelled (fraction {self.labelled_fraction}, seed '
                  f'{self.subset_seed})', logger='current')
        return [info for info in data_list if info['frame_dir'] in keep]

    def write_subset(self, path: str) -> None:
        """Write the chosen ``frame_dir``s to ``path``, one a line after ``#`` comment
        lines naming the draw; atomically (:func:`~gfp_mmaction.utils.atomic_write`)."""
        header = (f'# labelled subset: {len(self.labelled_frame_dirs)} of {self.split_size} '
                  f'samples of split {self.split} of {self.ann_file}\n'
                  f'# labelled_fraction={self.labelled_fraction} subset_seed={self.subset_seed}\n')
        atomic_write(path, header + ''.join(name + '\n' for name in self.labelled_frame_dirs))


def read_subset(path: str) -> List[str]:
    """The ``frame_dir``s of a file written by :meth:`SemiSupervisedPoseDataset.write_subset`."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]
