"""What GFP and MAMP share: persons folded into the batch, token masks, modes."""
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModel

__all__ = ['MaskedSkeletonPretrainer']


class MaskedSkeletonPretrainer(BaseModel):
    """Base of the masked skeleton modelling algorithms.

    Inputs come from MMAction2's ``PackActionInputs`` through ``ActionDataPreprocessor``:
    ``(N, num_clips, M, T, V, C)`` joints and, per data sample, the ``token_mask``
    ``(num_clips, M, L)`` made by a masking transform. Every person of every clip
    becomes one sequence of the batch: ``B = N * num_clips * M``.

    Modes: ``'loss'`` (training), ``'tensor'`` (full-sequence encoder features
    ``(N * num_clips, M, D, T_e, V)``).
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
    def token_mask(data_samples: List, device: torch.device) -> Tuple[torch.Tensor, int]:
        """Stack the per-sample ``token_mask`` fields.

        Returns:
            mask ``(B, L)`` bool on ``device`` (True = masked) and the visible count per
            sequence, counted on the host so that the step needs no device sync.
        """
        if not data_samples or 'token_mask' not in data_samples[0]:
            raise KeyError('data samples carry no "token_mask": add a masking transform '
                           '(MotionAwareTokenMasking or RandomTokenMasking) to the pipeline '
                           "and PackActionInputs(algorithm_keys=('token_mask',))")
        masks = np.stack([np.asarray(sample.token_mask) for sample in data_samples])
        masks = masks.reshape(-1, masks.shape[-1])
        visible = masks.shape[1] - masks.sum(axis=1)
        if visible.min() != visible.max():
            raise ValueError('every sequence must keep the same number of visible tokens, '
                             f'got between {visible.min()} and {visible.max()}')
        mask = torch.from_numpy(masks).to(device, non_blocking=True)
        return mask, int(visible[0])
