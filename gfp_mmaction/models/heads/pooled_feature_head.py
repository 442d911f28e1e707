"""A head that returns pooled encoder features instead of class scores (retrieval)."""
from typing import List

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule

__all__ = ['PooledFeatureHead']


@MODELS.register_module()
class PooledFeatureHead(BaseModule):
    """Pooled features for retrieval and feature export; no parameters, no loss.

    Used as the ``cls_head`` of MMAction2's ``RecognizerGCN`` in test-only configs:
    ``predict`` stores on every data sample a field ``feature`` ``(C,)``, the backbone
    output ``(N, M, C, T_e, V)`` averaged over persons, time and joints (the linear
    probe's input) and then over the clips of the sample.
    """

    @staticmethod
    def pool(x: torch.Tensor) -> torch.Tensor:
        """``(N, M, C, T_e, V) -> (N, C)``: mean over persons, time and joints."""
        if x.ndim != 5:
            raise ValueError(f'PooledFeatureHead expects backbone features (N, M, C, T, V), '
                             f'got shape {tuple(x.shape)}')
        return x.mean(dim=(1, 3, 4))

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.pool(x)

    def predict(self, feats: torch.Tensor, data_samples: List, **kwargs) -> List:
        """Set ``feature`` ``(C,)`` (float32) on each of the ``N`` data samples, from
        ``(N * num_clips, M, C, T_e, V)`` backbone features."""
        pooled = self.pool(feats).float()
        if pooled.shape[0] % len(data_samples):
            raise ValueError(f'{pooled.shape[0]} feature rows do not split evenly over '
                             f'{len(data_samples)} samples')
        pooled = pooled.reshape(len(data_samples), -1, pooled.shape[1]).mean(dim=1)
        for sample, feature in zip(data_samples, pooled.detach()):
            sample.set_field(feature, 'feature')
        return data_samples

    def loss(self, feats, data_samples, **kwargs):
        raise RuntimeError('PooledFeatureHead has nothing to train: it serves test-only configs '
                           '(retrieval, feature export); run them with tools/test.py')
