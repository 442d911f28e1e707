"""Layer-wise learning-rate decay for fine-tuning the skeleton transformer (BEiT / MAE)."""
import re
from typing import Dict, List, Optional

from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import nn

__all__ = ['LayerDecayOptimWrapperConstructor', 'encoder_layer_id']

_BLOCK = re.compile(r'^backbone\.blocks\.(\d+)\.')


def encoder_layer_id(name: str, num_layers: int) -> int:
    """Depth of a recognizer parameter, as MAMP's ``get_layer_id_for_vit`` counts it.

    ``backbone.patch_embed.*`` and ``backbone.pos_embed.*`` -> 0; ``backbone.blocks.i.*``
    -> ``i + 1``; everything else (the encoder's final norm, the head) -> ``num_layers + 1``.
    """
    if name.startswith(('backbone.patch_embed.', 'backbone.pos_embed.')):
        return 0
    match = _BLOCK.match(name)
    if match:
        return int(match.group(1)) + 1
    return num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Parameter groups with a learning rate that shrinks towards the input.

    For a recognizer whose ``backbone`` is a :class:`SkeletonTransformer` with ``L``
    blocks (its ``num_layers``), a parameter at depth ``d`` (:func:`encoder_layer_id`)
    gets ``lr * layer_decay_rate ** (L + 1 - d)``: the head and final norm the full rate,
    block ``i`` ``rate ** (L - i)``, the embeddings ``rate ** (L + 1)``. As in MAMP
    (``param_groups_lrd``), 1-D parameters (biases, norm weights) get no weight decay
    and parameters that do not require gradients (a frozen encoder) are left out.

    Each group records ``lr_scale`` and ``layer_id``. Param schedulers act on every group
    proportionally; use ``eta_min_ratio`` (not ``eta_min``) in ``CosineAnnealingLR`` to
    keep the decay at the end of the schedule, as MAMP does.

    Config::

        optim_wrapper = dict(
            constructor='LayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.05),
            paramwise_cfg=dict(layer_decay_rate=0.8))
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        if 'layer_decay_rate' not in paramwise_cfg:
            raise KeyError('LayerDecayOptimWrapperConstructor needs '
                           'paramwise_cfg=dict(layer_decay_rate=...)')
        self.layer_decay_rate = float(paramwise_cfg.pop('layer_decay_rate'))
        if not 0.0 < self.layer_decay_rate <= 1.0:
            raise ValueError(f'layer_decay_rate must lie in (0, 1], got {self.layer_decay_rate}')
        if paramwise_cfg:
            raise KeyError(f'LayerDecayOptimWrapperConstructor: unknown paramwise_cfg keys '
                           f'{sorted(paramwise_cfg)} (only layer_decay_rate)')
        super().__init__(optim_wrapper_cfg, None)

    def param_groups(self, model: nn.Module) -> List[Dict]:
        """One group per (depth, decay / no decay), in depth order."""
        backbone = getattr(model, 'backbone', None)
        num_layers = getattr(backbone, 'num_layers', None)
        if not isinstance(num_layers, int):
            raise TypeError(
                'LayerDecayOptimWrapperConstructor needs a model with a `backbone` that '
                'has an integer `num_layers` and parameters named patch_embed / pos_embed / '
                f'blocks.i / norm (SkeletonTransformer); got {type(backbone).__name__}')
        base_lr = self.base_lr
        base_wd = self.base_wd or 0.0
        groups: Dict[tuple, Dict] = {}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            layer_id = encoder_layer_id(name, num_layers)
            decay = param.ndim > 1
            key = (layer_id, decay)
            if key not in groups:
                scale = self.layer_decay_rate ** (num_layers + 1 - layer_id)
                groups[key] = dict(params=[], lr=base_lr * scale, lr_scale=scale,
                                   layer_id=layer_id, weight_decay=base_wd if decay else 0.0)
            groups[key]['params'].append(param)
        if not groups:
            raise ValueError('LayerDecayOptimWrapperConstructor: the model has no trainable '
                             'parameters')
        return [groups[key] for key in sorted(groups)]

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if is_model_wrapper(model):
            model = model.module
        groups = self.param_groups(model)
        for group in groups:
            print_log(f'layer {group["layer_id"]:2d}: lr x {group["lr_scale"]:.4f}, '
                      f'weight decay {group["weight_decay"]}, '
                      f'{len(group["params"])} tensors', logger='current')
        optimizer_cfg = dict(self.optimizer_cfg, params=groups)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        optim_wrapper_cfg = dict(self.optim_wrapper_cfg)
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(optim_wrapper_cfg, default_args=dict(optimizer=optimizer))
