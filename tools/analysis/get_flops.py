"""Per-sample pre-training FLOPs of a GFP or MAMP config, by part.

    python tools/analysis/get_flops.py configs/gfp/gfp_ntu60_xsub.py

One sample = ``num_person`` persons x ``num_frames`` frames (default 2 x 120), counted
with ``torch.utils.flop_counter`` (2 x multiply-adds) on the training path: the encoder
on the visible tokens, the decoder, and the target generator when the model has one
(:func:`gfp_mmaction.analysis.flops.measure`). Attention runs through PyTorch's math
kernel while counting, because the fused CPU kernel has no FLOP formula.
"""
import argparse
import sys
from pathlib import Path

from mmengine.config import Config, DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import gfp_mmaction  # noqa: E402,F401
from gfp_mmaction.analysis.flops import config_mask_ratio, measure  # noqa: E402

# isort: split
from mmaction.registry import MODELS  # noqa: E402  (after the stack fixes)


def parse_args():
    parser = argparse.ArgumentParser(description='Per-sample training GFLOPs by part')
    parser.add_argument('config', help='pre-training config file')
    parser.add_argument('--num-person', type=int, default=2, help='persons per sample')
    parser.add_argument('--mask-ratio', type=float, default=None,
                        help='mask ratio (default: the config pipeline\'s, else 0.9)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/train.py')
    return parser.parse_args()


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
