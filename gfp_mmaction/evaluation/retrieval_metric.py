"""Nearest-neighbour retrieval accuracy of frozen features (cosine similarity)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmaction.registry import METRICS
from mmengine.evaluator import BaseMetric

__all__ = ['nearest_neighbour_accuracy', 'NNRetrievalMetric']


def nearest_neighbour_accuracy(query: np.ndarray, query_labels: np.ndarray,
                               gallery: np.ndarray, gallery_labels: np.ndarray,
                               topk: Sequence[int] = (1, )) -> Dict[str, float]:
    """Share of queries whose nearest gallery samples (cosine similarity) share the label.

    Args:
        query (np.ndarray): ``(Q, C)`` features.
        query_labels (np.ndarray): ``(Q,)``.
        gallery (np.ndarray): ``(G, C)`` features.
        gallery_labels (np.ndarray): ``(G,)``.
        topk (Sequence[int]): ``k`` values; ``top{k}`` counts a query as hit when any of
            its ``k`` nearest gallery samples has its label (``top1``: the nearest one's
            label). Ties go to the lower gallery index. Defaults to ``(1, )``.

    Returns:
        dict[str, float]: ``{'top1': float in [0, 1], ...}``.
    """
    query = torch.as_tensor(np.asarray(query), dtype=torch.float64)
    gallery = torch.as_tensor(np.asarray(gallery), dtype=torch.float64)
    query_labels = torch.as_tensor(np.asarray(query_labels))
    gallery_labels = torch.as_tensor(np.asarray(gallery_labels))
    if query.ndim != 2 or gallery.ndim != 2 or query.shape[1] != gallery.shape[1]:
        raise ValueError(f'query and gallery features must be (Q, C) and (G, C), got '
                         f'{tuple(query.shape)} and {tuple(gallery.shape)}')
    if len(query_labels) != len(query) or len(gallery_labels) != len(gallery):
        raise ValueError('one label per feature row is needed')
    if len(query) == 0 or len(gallery) == 0:
        raise ValueError(f'retrieval needs queries and a gallery, got {len(query)} queries '
                         f'and {len(gallery)} gallery samples')
    if max(topk) > len(gallery):
        raise ValueError(f'top-{max(topk)} needs at least {max(topk)} gallery samples, '
                         f'got {len(gallery)}')
    # Cosine similarity; a zero vector gets similarity 0 to everything instead of NaN.
    query = query / query.norm(dim=1, keepdim=True).clamp_min(1e-12)
    gallery = gallery / gallery.norm(dim=1, keepdim=True).clamp_min(1e-12)
    similarity = query @ gallery.T  # (Q, G)
    # A stable sort keeps the lower gallery index first among equal similarities.
    order = torch.sort(similarity, dim=1, descending=True, stable=True).indices
    hits = gallery_labels[order[:, :max(topk)]] == query_labels[:, None]  # (Q, kmax)
    return {f'top{k}': float(hits[:, :k].any(dim=1).double().mean()) for k in topk}


@METRICS.register_module()
class NNRetrievalMetric(BaseMetric):
    """Top-k nearest-neighbour retrieval from the query samples to the gallery samples.

    Each data sample must carry a ``feature`` ``(C,)`` (set by
    :class:`~gfp_mmaction.models.heads.PooledFeatureHead`), ``gt_label`` and the metainfo
    ``retrieval_role`` (``'query'`` / ``'gallery'``, set by
    :class:`~gfp_mmaction.datasets.RetrievalPoseDataset` and kept by
    ``PackActionInputs(meta_keys=('frame_dir', 'retrieval_role'))``).

    Args:
        topk (int | tuple[int]): as :func:`nearest_neighbour_accuracy`; the paper's
            protocol is top-1. Defaults to ``(1, )``.
        collect_device (str): as MMEngine's ``BaseMetric``. Defaults to ``'cpu'``.
        prefix (str, optional): as MMEngine's ``BaseMetric``. Defaults to None.
    """

    default_prefix = 'retrieval'

    def __init__(self, topk: Union[int, Tuple[int, ...]] = (1, ),
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or min(self.topk) < 1:
            raise ValueError(f'NNRetrievalMetric: topk must be positive integers, got {topk!r}')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            name = sample.get('frame_dir', '?')
            if 'feature' not in sample:
                raise KeyError(f'sample {name!r} carries no "feature": use PooledFeatureHead '
                               "as the recognizer's cls_head")
            if sample.get('retrieval_role') not in ('query', 'gallery'):
                raise KeyError(
                    f'sample {name!r} has retrieval_role={sample.get("retrieval_role")!r}: '
                    'build the data from RetrievalPoseDataset and keep the tag with '
                    "PackActionInputs(meta_keys=('frame_dir', 'retrieval_role'))")
            label = sample['gt_label']
            self.results.append(dict(
                feature=sample['feature'].detach().cpu().float().numpy(),
                label=int(label.item() if torch.is_tensor(label) else label),
                role=sample['retrieval_role']))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        def stack(role):
            rows = [r for r in results if r['role'] == role]
            features = np.stack([r['feature'] for r in rows]) if rows else np.zeros((0, 0))
            return features, np.array([r['label'] for r in rows], dtype=np.int64)

        query, query_labels = stack('query')
        gallery, gallery_labels = stack('gallery')
        return nearest_neighbour_accuracy(query, query_labels, gallery, gallery_labels,
                                          self.topk)
