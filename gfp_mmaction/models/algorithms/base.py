"""What GFP and MAMP share: persons folded into the batch, token masks, modes."""
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

__all__ = ['MaskedSkeletonPretrainer']


class MaskedSkeletonPretrainer(BaseModel):
    """Base of the masked skeleton modelling algorithms.

    Its subclasses are :class:`~gfp_mmaction.models.algorithms.MAMP`, `Masked Motion
    Predictors are Strong 3D Action Representation Learners
    <https://arxiv.org/abs/2308.07092>`_ (ICCV 2023), and
    :class:`~gfp_mmaction.models.algorithms.GFP`, `Towards Efficient General Feature
    Prediction in Masked Skeleton Modeling <https://arxiv.org/abs/2509.03609>`_
    (ICCV 2025).

    Inputs are ``(N, num_clips, M, T, V, C)`` joints and the token masks, from either
    data path:

    - batched (the configs' default): ``SkeletonPretrainPreprocessor`` augments and
      masks on the device and passes ``data_samples=dict(visible_index=(B, L_vis))``;
    - per sample: MMAction2's ``PackActionInputs`` through ``ActionDataPreprocessor``,
      each data sample carrying the ``token_mask`` ``(num_clips, M, L)`` of a masking
      transform.

    Every person of every clip becomes one sequence of the batch: ``B = N * num_clips * M``.

    Modes: ``'loss'`` (training), ``'tensor'`` (full-sequence encoder features
    ``(N * num_clips, M, D, T_e, V)``).

    Args:
        backbone (dict): the encoder's config.
        neck (dict): the decoder's config.
        head (dict): the head's (losses') config.
        data_preprocessor (dict, optional): the data preprocessor's config. Defaults to
            None (``ActionDataPreprocessor``).
        init_cfg (dict, optional): MMEngine's initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='ActionDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.head = MODELS.build(head)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], torch.Tensor]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f'{type(self).__name__} supports the "loss" and "tensor" modes, '
                           f'not {mode!r}: evaluate a pre-trained encoder with the linear, '
                           'fine-tune or retrieval configs')

    def train_step(self, data, optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """MMEngine's ``BaseModel.train_step`` with the parameter update kept out of
        ``torch.compile``'s graph: when the runner compiles ``train_step``
        (``cfg.compile``), the preprocessing, forward and backward are compiled and the
        optimizer update (a few fused kernels with ``fused=True`` AdamW) runs eagerly.
        Dynamo cannot trace MMEngine's scheduler-wrapped ``optimizer.step``."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed_losses, log_vars = self.parse_losses(losses)
        _update_params(optim_wrapper, parsed_losses)
        return log_vars

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(N, num_clips, M, T, V, C)`` -> ``(N * num_clips, M, D, T_e, V)``."""
        return self.backbone(inputs.flatten(0, 1))

    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    @staticmethod
    def fold_persons(inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(N, num_clips, M, T, V, C)`` -> joints ``(B, T, V, C)`` and person weights
        ``(B,)``: 1 for a real person, 0 for an all-zero padded one."""
        joints = inputs.flatten(0, 2).float()
        present = joints.flatten(1).abs().amax(dim=1) > 0
        return joints, present.to(joints.dtype)

    @staticmethod
    def token_mask(data_samples, device: torch.device,
                   num_tokens: Optional[int] = None) -> Tuple[torch.Tensor, int]:
        """The token mask of the batch, from either data path.

        Args:
            data_samples (dict | list): ``dict(visible_index=(B, L_vis) tensor)``
                (batched path) or a list of data samples with a ``token_mask`` field
                (per-sample path).
            device (torch.device): where the mask goes.
            num_tokens (int, optional): ``L``, needed for the batched path's mask.
                Defaults to None.

        Returns:
            tuple[torch.Tensor, int]: mask ``(B, L)`` bool on ``device`` (True = masked)
            and the visible count per sequence, known on the host (a shape) so that the
            step needs no device sync.
        """
        if isinstance(data_samples, dict) and 'visible_index' in data_samples:
            index = data_samples['visible_index'].to(device)
            if num_tokens is None:
                raise ValueError('token_mask: num_tokens is needed with visible_index')
            mask = torch.ones(index.shape[0], num_tokens, dtype=torch.bool, device=device)
            return mask.scatter(1, index, False), index.shape[1]
        if not data_samples or 'token_mask' not in data_samples[0]:
            raise KeyError('data samples carry no "token_mask": use the batched path '
                           "(data_preprocessor=dict(type='SkeletonPretrainPreprocessor')) "
                           'or add a masking transform (MotionAwareTokenMasking or '
                           "RandomTokenMasking) and PackActionInputs(algorithm_keys="
                           "('token_mask',)) to the pipeline")
        masks = np.stack([np.asarray(sample.token_mask) for sample in data_samples])
        masks = masks.reshape(-1, masks.shape[-1])
        visible = masks.shape[1] - masks.sum(axis=1)
        if visible.min() != visible.max():
            raise ValueError('every sequence must keep the same number of visible tokens, '
                             f'got between {visible.min()} and {visible.max()}')
        mask = torch.from_numpy(masks).to(device, non_blocking=True)
        return mask, int(visible[0])

    def masked_batch(self, inputs: torch.Tensor, data_samples):
        """``(joints (B, T, V, C), person weights (B,), mask (B, L), L_vis)`` of a batch."""
        joints, person_weight = self.fold_persons(inputs)
        num_tokens = joints.shape[1] // self.backbone.patch_len * joints.shape[2]
        mask, num_visible = self.token_mask(data_samples, joints.device, num_tokens)
        return joints, person_weight, mask, num_visible


@torch.compiler.disable
def _update_params(optim_wrapper: OptimWrapper, loss: torch.Tensor) -> None:
    optim_wrapper.update_params(loss)
