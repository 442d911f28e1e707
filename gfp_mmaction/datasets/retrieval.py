"""The retrieval protocol's data: one split as the gallery, another as the queries."""
import copy
from typing import Dict, List

import mmengine
from mmaction.datasets import PoseDataset
from mmaction.registry import DATASETS

__all__ = ['RetrievalPoseDataset']


@DATASETS.register_module()
class RetrievalPoseDataset(PoseDataset):
    """Two splits of one MMAction2 skeleton pickle, each sample tagged with its role.

    The gallery split's samples come first, then the query split's; each data info gets
    ``retrieval_role`` (``'gallery'`` / ``'query'``), which the pipeline keeps with
    ``PackActionInputs(meta_keys=('frame_dir', 'retrieval_role'))`` and
    :class:`~gfp_mmaction.evaluation.NNRetrievalMetric` reads.

    Args:
        gallery_split: e.g. ``'xsub_train'``.
        query_split: e.g. ``'xsub_val'``.
        **kwargs: ``PoseDataset``'s arguments except ``split`` (``ann_file``,
            ``pipeline``, ``test_mode``, ...).
    """

    def __init__(self, gallery_split: str, query_split: str, **kwargs) -> None:
        if kwargs.get('split') is not None:
            raise ValueError('RetrievalPoseDataset takes gallery_split and query_split, '
                             'not split')
        self.gallery_split = gallery_split
        self.query_split = query_split
        super().__init__(**kwargs)

    def load_data_list(self) -> List[Dict]:
        if not self.ann_file.endswith('.pkl'):
            raise ValueError(f'RetrievalPoseDataset reads a .pkl annotation file, got '
                             f'{self.ann_file}')
        data = mmengine.load(self.ann_file)
        if not isinstance(data, dict) or 'split' not in data or 'annotations' not in data:
            raise ValueError(f'{self.ann_file}: expected dict(split=..., annotations=...)')
        by_name = {anno['frame_dir']: anno for anno in data['annotations']}
        data_list = []
        for role, split in (('gallery', self.gallery_split), ('query', self.query_split)):
            if split not in data['split']:
                raise KeyError(f'{self.ann_file} has no split {split!r} (the {role}); it has '
                               f'{sorted(data["split"])}')
            names = set(data['split'][split])
            unknown = sorted(names - by_name.keys())
            if unknown:
                raise KeyError(f'{self.ann_file}: split {split!r} lists {len(unknown)} '
                               f'frame_dirs without an annotation, e.g. {unknown[:3]}')
            for anno in data['annotations']:  # annotation order, as PoseDataset keeps it
                if anno['frame_dir'] in names:
                    info = copy.copy(anno)  # a sample in both splits gets two entries
                    info['retrieval_role'] = role
                    data_list.append(info)
        return data_list
