"""GFP: masked skeleton modelling that predicts general features made online."""
from typing import Dict, List, Optional

import torch
from mmaction.registry import MODELS

from .base import MaskedSkeletonPretrainer

__all__ = ['GFP']


@MODELS.register_module()
class GFP(MaskedSkeletonPretrainer):
    """General Feature Prediction (ICCV 2025).

    The encoder sees only the visible tokens; the hierarchical decoder predicts, at
    four temporal scales, the features that the target generation network (TGN) makes
    from the whole sequence's motion; both networks train together, and a variance /
    covariance regulariser keeps the targets from collapsing.

    Args:
        backbone: the encoder (``SkeletonTransformer``).
        neck: the decoder (``HierarchicalDecoder``).
        target_generator: the TGN (``MotionTargetGenerator``).
        head: the losses (``GFPHead``).
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

    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        joints, person_weight = self.fold_persons(inputs)
        mask, num_visible = self.token_mask(data_samples, joints.device)

        latent, visible_index = self.backbone.forward_visible(joints, mask, num_visible)
        predictions = self.neck(latent, visible_index)
        targets = self.target_generator(joints)
        return self.head.loss(predictions, targets, person_weight)
