"""MAMP (ICCV 2023), the baseline: masked motion prediction at full resolution."""
from typing import Dict, List

import torch
from mmaction.registry import MODELS

from .base import MaskedSkeletonPretrainer

__all__ = ['MAMP']


@MODELS.register_module()
class MAMP(MaskedSkeletonPretrainer):
    """Masked Motion Prediction: the decoder regresses the motion ``x[t + 1] - x[t]`` of
    every masked token. Same encoder, transforms and masking as :class:`GFP`; the target
    is the head's (:meth:`MAMPHead.construct_target`).

    Implementation of `Masked Motion Predictors are Strong 3D Action Representation
    Learners <https://arxiv.org/abs/2308.07092>`_ (Mao et al., ICCV 2023).
    """

    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        joints, person_weight, mask, num_visible = self.masked_batch(inputs, data_samples)

        latent, visible_index = self.backbone.forward_visible(joints, mask, num_visible)
        prediction = self.neck(latent, visible_index)
        target = self.head.construct_target(joints, self.backbone.patch_len)
        return self.head.loss(prediction, target, mask, person_weight)
