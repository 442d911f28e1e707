"""The retrieval protocol's data: one split as the gallery, another as the queries."""
import copy
from typing import Dict, List

from mmaction.registry import DATASETS

from .skeleton_dataset import AnnotationError, SkeletonPoseDataset

__all__ = ['RetrievalPoseDataset']


@DATASETS.register_module()
class RetrievalPoseDataset(SkeletonPoseDataset):
    """Two splits of one MMAction2 skeleton pickle, each sample tagged with its role.

    The gallery split's samples come first, then the query split's, each in file order;
    a sample in both splits appears in both. Each data info gets ``retrieval_role``
    (``'gallery'`` / ``'query'``), which the pipeline keeps with
    ``PackActionInputs(meta_keys=('frame_dir', 'retrieval_role'))`` and
    :class:`~gfp_mmaction.evaluation.NNRetrievalMetric` reads.

    Both splits are validated at load as :class:`SkeletonPoseDataset` validates its
    split: a missing or empty split, a split naming samples that are not in the file, or
    a broken sample is an :class:`AnnotationError` naming the file, the split or sample
    and the field. The two splits may share samples (they are not checked for
    overlap).

    Args:
        gallery_split (str): e.g. ``'xsub_train'``.
        query_split (str): e.g. ``'xsub_val'``.
        **kwargs: :class:`SkeletonPoseDataset`'s arguments except ``split``
            (``ann_file``, ``pipeline``, ``test_mode``, ``num_classes``, ``repair``, ...).
    """

    def __init__(self, gallery_split: str, query_split: str, **kwargs) -> None:
        if kwargs.get('split') is not None:
            raise ValueError('RetrievalPoseDataset takes gallery_split and query_split, '
                             'not split')
        for role, split in (('gallery_split', gallery_split), ('query_split', query_split)):
            if not isinstance(split, str) or not split:
                raise ValueError(f'RetrievalPoseDataset ({kwargs.get("ann_file")}): {role} '
                                 f'must be a split name, got {split!r}')
        self.gallery_split = gallery_split
        self.query_split = query_split
        super().__init__(**kwargs)

    def load_data_list(self) -> List[Dict]:
        """Read, select both splits, repair (if enabled) and validate them, tag the roles.

        Returns:
            list[dict]: the gallery split's annotations then the query split's, each a copy
            with ``retrieval_role`` set.
        """
        data = self._read()
        roles = (('gallery', self.gallery_split), ('query', self.query_split))
        selections = []
        for role, split in roles:
            try:
                selections.append(self._select(data, split))
            except AnnotationError as error:
                raise AnnotationError(f'{error} (the {role} split)') from error
        if self.repair:  # each sample once, even when both splits hold it
            unique = {id(a): a for annotations, _, _ in selections for a in annotations}
            self._repair(list(unique.values()))
        data_list = []
        for (role, split), (annotations, positions, names) in zip(roles, selections):
            self._check(annotations, positions, names, split)
            for anno in annotations:
                info = copy.copy(anno)  # a sample in both splits gets two entries
                info['retrieval_role'] = role
                data_list.append(info)
        return self._with_prefix(data_list)
