"""GFP's loss head: prediction loss plus the anti-collapse regulariser."""
from typing import Dict, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule

__all__ = ['GFPHead']


@MODELS.register_module()
class GFPHead(BaseModule):
    """``L = 5 * L_pred + sum_k (5 * L_cov(Z_k) + 1 * L_var(Z_k))``, terms logged apart.

    Args:
        prediction_loss (dict): config of the prediction loss (default: 5 x
            mean-of-levels MSE).
        regularizer (dict, optional): config of the regulariser on the TGN outputs
            (default: VICReg-style variance weight 1, covariance weight 5, its batch
            statistics taken over the whole batch of all data-parallel processes:
            ``gather_distributed=True``), or None to switch it off (ablation: the targets
            then collapse).
        stop_grad_targets (bool): stop the prediction loss's gradient into the TGN, which
            then learns from the regulariser only (ablation; default: trained jointly).
        init_cfg (dict, optional): MMEngine's initialisation config. Defaults to None.
    """

    def __init__(self,
                 prediction_loss: dict = dict(type='MultiLevelMSELoss', loss_weight=5.0),
                 regularizer: Optional[dict] = dict(
                     type='VarianceCovarianceLoss', var_weight=1.0, cov_weight=5.0),
                 stop_grad_targets: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.prediction_loss = MODELS.build(prediction_loss)
        self.regularizer = MODELS.build(regularizer) if regularizer is not None else None
        self.stop_grad_targets = stop_grad_targets

    def loss(self, predictions: Sequence[torch.Tensor], targets: Sequence[torch.Tensor],
             person_weight: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """The losses of one batch.

        Args:
            predictions (Sequence[torch.Tensor]): per level ``(B, n_k, C_t)`` from the
                decoder.
            targets (Sequence[torch.Tensor]): per level ``(B, n_k, C_t)`` from the TGN.
            person_weight (torch.Tensor, optional): ``(B,)`` 1 for real persons, 0 for
                padded ones. Defaults to None.

        Returns:
            dict[str, torch.Tensor]: ``loss_pred`` and, with the regulariser, ``loss_var``
            and ``loss_cov``.
        """
        prediction_targets = [t.detach() for t in targets] if self.stop_grad_targets else targets
        losses = dict(loss_pred=self.prediction_loss(predictions, prediction_targets,
                                                     person_weight))
        if self.regularizer is not None:
            losses.update(self.regularizer(targets, person_weight))
        return losses
