"""Per-sample pre-training FLOPs of a GFP or MAMP config, by part.

    python tools/analysis/get_flops.py configs/gfp/gfp_ntu60_xsub.py

One sample = ``num_person`` persons x ``num_frames`` frames (default 2 x 120), counted
with ``torch.utils.flop_counter`` (2 x multiply-adds) on the training path: the encoder
on the visible tokens, the decoder, and the target generator when the model has one.
Attention runs through PyTorch's math kernel while counting, because the fused CPU
kernel has no FLOP formula.
"""
import argparse
import sys
from pathlib import Path

import torch
from mmengine.config import Config, DictAction
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import gfp_mmaction  # noqa: E402,F401
from mmaction.registry import MODELS  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Per-sample training GFLOPs by part')
    parser.add_argument('config', help='pre-training config file')
    parser.add_argument('--num-person', type=int, default=2, help='persons per sample')
    parser.add_argument('--mask-ratio', type=float, default=None,
                        help='mask ratio (default: the config pipeline\'s, else 0.9)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/train.py')
    return parser.parse_args()


def config_mask_ratio(cfg) -> float:
    for step in cfg.get('train_pipeline', []):
        if 'mask_ratio' in step:
            return step['mask_ratio']
    return 0.9


def count(fn) -> float:
    """GFLOPs (2 x multiply-adds) of calling ``fn``."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def measure(model, num_person: int, mask_ratio: float) -> dict:
    """GFLOPs per sample of ``encoder``, ``decoder``, ``target_generator`` and ``total``."""
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


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = MODELS.build(cfg.model).eval()
    mask_ratio = args.mask_ratio if args.mask_ratio is not None else config_mask_ratio(cfg)
    flops = measure(model, args.num_person, mask_ratio)
    print(f'{args.config}: {type(model).__name__}, {args.num_person} persons x '
          f'{model.backbone.num_rows * model.backbone.patch_len} frames, '
          f'mask ratio {mask_ratio}')
    print(f'{"part":<18}{"GFLOPs / sample":>16}')
    for part, value in flops.items():
        print(f'{part:<18}{value:>16.3f}')


if __name__ == '__main__':
    main()
