"""MAMP's loss head: masked-token regression of per-patch-normalised motion."""
from typing import Dict, Optional

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule

from ...utils import frame_motion, patchify

__all__ = ['MAMPHead']


@MODELS.register_module()
class MAMPHead(BaseModule):
    """MSE between predicted and target motion patches, on masked tokens only.

    The head owns MAMP's target, as mmpretrain's ``MAEHead`` owns MAE's:
    :meth:`construct_target` cuts the joints' frame motion ``x[t + 1] - x[t]`` into the
    encoder's tokens and normalises each patch (``norm_target``); :meth:`loss` regresses
    it. ``loss = sum_{masked tokens} w * mse / sum_{masked tokens} w``, ``w`` =
    the person's weight.

    Args:
        norm_target (bool): normalise each target patch to zero mean, unit variance over
            its ``l * C`` values (MAMP's ``norm_pix_loss``). Defaults to True.
        loss_weight (float): scale of ``loss_pred``. Defaults to 1.0.
        count_padded_persons (bool): False (default, the like-for-like baseline): padded
            (all-zero) persons have weight 0, as in every GFP loss. True: every person
            counts, the padded ones too, as MAMP's own code does (its loss averages over
            the masked tokens of all ``N * M`` sequences: the zero second body of a
            single-actor NTU-60 clip, whose target is 0, is part of the objective).
        init_cfg (dict, optional): MMEngine init config. Defaults to None.
    """

    def __init__(self, norm_target: bool = True, loss_weight: float = 1.0,
                 count_padded_persons: bool = False, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.norm_target = norm_target
        self.loss_weight = loss_weight
        self.count_padded_persons = count_padded_persons

    def construct_target(self, joints: torch.Tensor, patch_len: int) -> torch.Tensor:
        """MAMP's regression target: the frame motion of every token, each token's
        patch normalised to zero mean and unit variance with ``norm_target``
        (``(m - mean) / sqrt(var + 1e-6)``, unbiased variance over its ``l * C`` values).

        Args:
            joints (torch.Tensor): ``(B, T, V, C)``, persons folded into ``B``.
            patch_len (int): frames per token ``l``, the encoder's
                (``backbone.patch_len``).

        Returns:
            torch.Tensor: ``(B, L, l * C)`` float32 motion patches, ``L = T / l * V``
            tokens in the encoder's (patch row, joint) order; the last frame's motion is
            0 before normalisation.
        """
        target = patchify(frame_motion(joints), patch_len).flatten(1, 2).float()
        if self.norm_target:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        return target

    def loss(self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
             person_weight: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """The masked-token regression loss.

        Args:
            prediction (torch.Tensor): ``(B, L, P)``.
            target (torch.Tensor): ``(B, L, P)`` target patches
                (:meth:`construct_target`).
            mask (torch.Tensor): ``(B, L)`` bool, True = masked (the tokens that count).
            person_weight (torch.Tensor, optional): ``(B,)`` 1 for real persons, 0 for
                padded ones (ignored with ``count_padded_persons=True``).

        Returns:
            dict: ``loss_pred``.
        """
        per_token = (prediction.float() - target.float()).pow(2).mean(dim=-1)
        token_weight = mask.to(per_token.dtype)
        if person_weight is not None and not self.count_padded_persons:
            token_weight = token_weight * person_weight.to(per_token.dtype)[:, None]
        loss = (per_token * token_weight).sum() / token_weight.sum().clamp(min=1)
        return dict(loss_pred=self.loss_weight * loss)
