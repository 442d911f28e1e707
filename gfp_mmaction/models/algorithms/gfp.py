"""GFP: masked skeleton modelling that predicts general features made online."""
from typing import Dict, List, Optional

import torch
from mmaction.registry import MODELS

from .base import MaskedSkeletonPretrainer

__all__ = ['GFP']


@MODELS.register_module()
class GFP(MaskedSkeletonPretrainer):
    """General Feature Prediction (ICCV 2025).

    Implementation of `Towards Efficient General Feature Prediction in Masked Skeleton
    Modeling <https://arxiv.org/abs/2509.03609>`_ (Sun et al., ICCV 2025).

    The encoder sees only the visible tokens; the hierarchical decoder predicts, at
    four temporal scales, the features that the target generation network (TGN) makes
    from the whole sequence's motion; both networks train together, and a variance /
    covariance regulariser keeps the targets from collapsing.

    Args:
        backbone (dict): the encoder (``SkeletonTransformer``).
        neck (dict): the decoder (``HierarchicalDecoder``).
        target_generator (dict): the TGN (``MotionTargetGenerator``).
        head (dict): the losses (``GFPHead``).
        data_preprocessor (dict, optional): as :class:`MaskedSkeletonPretrainer`.
            Defaults to None (``ActionDataPreprocessor``).
        init_cfg (dict, optional): MMEngine's initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 target_generator: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(backbone, neck, head, data_preprocessor, init_cfg)
        self.target_generator = MODELS.build(target_generator)
        if self.neck.num_levels != self.target_generator.num_levels:
            raise ValueError(f'the decoder predicts {self.neck.num_levels} levels but the '
                             f'target generator makes {self.target_generator.num_levels}')
        neck_kernels = getattr(self.neck, 'pool_kernels', None)
        if neck_kernels is not None and neck_kernels != self.target_generator.pool_kernels:
            raise ValueError(
                f'GFP: the decoder pools {neck_kernels} patch rows per level but the target '
                f'generator {self.target_generator.pool_kernels}: level k must predict the '
                'targets of the same tokens; set model.neck.pool_kernels and '
                'model.target_generator.pool_kernels to the same value')
        self._check_target_widths()

    def _check_target_widths(self) -> None:
        """Every level's prediction must be as wide as its target (``C_t``): a mismatch
        would otherwise surface as a shape error inside the loss at the first step."""
        predicted = list(self.neck.level_dims)
        made = list(self.target_generator.level_dims)
        if predicted == made:
            return
        level = next(k for k, (p, m) in enumerate(zip(predicted, made)) if p != m)
        raise ValueError(
            f'GFP: target widths differ between the decoder and the target generator: '
            f'level {level} predicts {predicted[level]} values per token, the target '
            f'generator makes {made[level]} (all levels: decoder {predicted}, target '
            f'generator {made}); set model.neck.target_dims and '
            f'model.target_generator.target_dims to the same value')

    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        joints, person_weight, mask, num_visible = self.masked_batch(inputs, data_samples)

        latent, visible_index = self.backbone.forward_visible(joints, mask, num_visible)
        predictions = self.neck(latent, visible_index)
        targets = self.target_generator(joints)
        return self.head.loss(predictions, targets, person_weight)

