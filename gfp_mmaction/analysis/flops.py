"""Per-sample pre-training FLOPs of a GFP or MAMP model, by part
(``tools/analysis/get_flops.py``, the benchmark's FLOPs column).

Counted with ``torch.utils.flop_counter`` (2 x multiply-adds) on the training path: the
encoder on the visible tokens, the decoder, and the target generator when the model has
one. Attention runs through PyTorch's math kernel while counting, because the fused CPU
kernel has no FLOP formula.
"""
from typing import Callable, Dict

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

__all__ = ['config_mask_ratio', 'count', 'measure']


def config_mask_ratio(cfg) -> float:
    """The mask ratio of the config's training pipeline.

    Args:
        cfg (mmengine.Config): a pre-training config.

    Returns:
        float: the first ``mask_ratio`` of ``cfg.train_pipeline``, else 0.9.
    """
    for step in cfg.get('train_pipeline', []):
        if 'mask_ratio' in step:
            return step['mask_ratio']
    return 0.9


def count(fn: Callable[[], object]) -> float:
    """GFLOPs (2 x multiply-adds) of calling ``fn``.

    Args:
        fn (Callable): called once, with attention on the math kernel.

    Returns:
        float: GFLOPs.
    """
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def measure(model, num_person: int, mask_ratio: float) -> Dict[str, float]:
    """GFLOPs of one sample, by part, on CPU tensors.

    Args:
        model (torch.nn.Module): a masked skeleton pre-training model (GFP or MAMP), on the
            CPU; its backbone sets the sample's frames and joints.
        num_person (int): persons per sample.
        mask_ratio (float): share of tokens masked.

    Returns:
        dict[str, float]: ``encoder``, ``decoder``, ``target_generator`` (when the model
        has one) and ``total``.
    """
    backbone = model.backbone
    num_frames = backbone.num_rows * backbone.patch_len
    joints = torch.randn(num_person, num_frames, backbone.num_joints, backbone.in_channels)
    num_tokens = backbone.num_rows * backbone.num_joints
    num_visible = round(num_tokens * (1 - mask_ratio))
    mask = torch.ones(num_person, num_tokens, dtype=torch.bool)
    mask[:, torch.randperm(num_tokens)[:num_visible]] = False

    out = {}
    with torch.no_grad():
        out['encoder'] = count(lambda: backbone.forward_visible(joints, mask, num_visible))
        latent, index = backbone.forward_visible(joints, mask, num_visible)
        out['decoder'] = count(lambda: model.neck(latent, index))
        if hasattr(model, 'target_generator'):
            out['target_generator'] = count(lambda: model.target_generator(joints))
    out['total'] = sum(out.values())
    return out
