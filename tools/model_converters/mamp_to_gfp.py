"""Convert a checkpoint of the official MAMP code into this project's layout.

    python tools/model_converters/mamp_to_gfp.py MAMP_CHECKPOINT OUT.pth

MAMP (Mao et al., ICCV 2023, https://github.com/maoyunyao/MAMP) saves
``{'model': state_dict, 'optimizer': ..., 'epoch': ..., 'scaler': ..., 'args': ...}``
from its pre-training, linear-probe and fine-tuning scripts. Its encoder is the one this
project's ``SkeletonTransformer`` re-implements; only the names and the patch embedding's
layout differ:

==============================================  ==========================================
MAMP                                            SkeletonTransformer (under ``backbone.``)
==============================================  ==========================================
``joints_embed.proj.weight`` ``(D, C, l, 1)``   ``patch_embed.weight`` ``(D, l * C)``
``joints_embed.proj.bias``                      ``patch_embed.bias``
``temp_embed`` ``(1, T / l, 1, D)``             ``pos_embed.temporal``
``pos_embed`` ``(1, 1, V, D)``                  ``pos_embed.spatial``
``blocks.i.{norm1,attn.qkv,attn.proj,norm2}``   the same names
``blocks.i.mlp.fc1``, ``blocks.i.mlp.fc2``      ``blocks.i.mlp.0``, ``blocks.i.mlp.3``
``norm``                                        ``norm``
==============================================  ==========================================

MAMP's patch embedding is a ``(l, 1)`` convolution with stride ``(l, 1)`` over
``(C, T, V)``; here it is a linear map of each joint's ``l`` frames flattened frame-major
(frame 0's ``C`` coordinates first), so ``W_linear[d, k * C + c] = W_conv[d, c, k, 0]``.
The decoder (``decoder_*``, ``mask_token``) and the classification head (``head.*``) are
dropped. Any other key is an error: the file is not the encoder this converter knows.

The output is an MMEngine checkpoint, ``{'state_dict': {'backbone.<name>': tensor},
'meta': {'backbone_cfg': ..., ...}}``, checked here to load strictly into a
``SkeletonTransformer`` of the checkpoint's shape (``meta['backbone_cfg']``; its
``num_heads`` comes from MAMP's saved arguments when they hold it). Load it with
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``; its features
equal MAMP's encoder features for the same clip (MAMP reads ``(N, C, T, V, M)``,
``SkeletonTransformer`` reads ``(N, M, T, V, C)``).

The file is read with MMEngine's checkpoint loader as registered by ``gfp_mmaction``,
which also accepts the ``argparse.Namespace`` that MAMP stores under ``'args'``.
"""
import argparse
import io
import os.path as osp
import pickle
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.runner.checkpoint import CheckpointLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes: the checkpoint loader)
from gfp_mmaction.models.backbones.skeleton_transformer import SkeletonTransformer  # noqa: E402
from gfp_mmaction.utils import atomic_write  # noqa: E402

PATCH_KEY = 'joints_embed.proj.weight'
# Pre-training decoder and downstream head: not part of the encoder.
DROPPED = re.compile(r'^(decoder_|mask_token$|head\.)')
# MAMP's names inside a block -> SkeletonTransformer's (the MLP is an nn.Sequential here).
BLOCK_NAMES = {
    'norm1.weight': 'norm1.weight', 'norm1.bias': 'norm1.bias',
    'attn.qkv.weight': 'attn.qkv.weight', 'attn.qkv.bias': 'attn.qkv.bias',
    'attn.proj.weight': 'attn.proj.weight', 'attn.proj.bias': 'attn.proj.bias',
    'norm2.weight': 'norm2.weight', 'norm2.bias': 'norm2.bias',
    'mlp.fc1.weight': 'mlp.0.weight', 'mlp.fc1.bias': 'mlp.0.bias',
    'mlp.fc2.weight': 'mlp.3.weight', 'mlp.fc2.bias': 'mlp.3.bias',
}
TOP_NAMES = {'joints_embed.proj.bias': 'patch_embed.bias', 'temp_embed': 'pos_embed.temporal',
             'pos_embed': 'pos_embed.spatial', 'norm.weight': 'norm.weight',
             'norm.bias': 'norm.bias'}
_BLOCK_KEY = re.compile(r'^blocks\.(\d+)\.(.+)$')


class NotAMampCheckpoint(ValueError):
    """The file is not a checkpoint of MAMP's encoder; the message names the file."""


def read_mamp_checkpoint(path: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Read a MAMP checkpoint.

    Args:
        path (str): the file MAMP's ``misc.save_model`` wrote (or a bare MAMP state
            dict).

    Returns:
        tuple[dict[str, torch.Tensor], dict]: ``(state, info)``: MAMP's state dict (a
        DataParallel ``module.`` prefix removed) and what the file says about the run:
        ``epoch`` and ``model_args`` when present.

    Raises:
        FileNotFoundError: no such file.
        NotAMampCheckpoint: not a dict of tensors or a ``{'model': ...}`` checkpoint.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'MAMP checkpoint {path} does not exist')
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except (RuntimeError, EOFError) as error:  # a truncated or foreign file
        raise NotAMampCheckpoint(f'{path} is not a readable PyTorch checkpoint: {error}') \
            from None
    if not isinstance(loaded, dict):
        raise NotAMampCheckpoint(f'{path} holds a {type(loaded).__name__}, expected MAMP\'s '
                                 "checkpoint dict {'model': state_dict, ...}")
    state = loaded.get('model', loaded)
    if not isinstance(state, dict):
        raise NotAMampCheckpoint(f"{path}: 'model' holds a {type(state).__name__}, expected "
                                 "MAMP's state dict")
    if state and all(key.startswith('module.') for key in state):
        state = {key[len('module.'):]: value for key, value in state.items()}
    args = loaded.get('args')
    model_args = getattr(args, 'model_args', None) if args is not None else None
    info = dict(epoch=loaded.get('epoch'),
                model_args=dict(model_args) if isinstance(model_args, dict) else {})
    return state, info


def convert_mamp_state(state: Dict[str, torch.Tensor], source: str = '<state dict>'
                       ) -> Tuple[Dict[str, torch.Tensor], List[str], dict]:
    """Rename and reshape MAMP's encoder weights to ``SkeletonTransformer``'s.

    Args:
        state (dict[str, torch.Tensor]): MAMP's state dict (pre-training, linear-probe
            or fine-tuning model).
        source (str): the file, for error messages. Defaults to ``'<state dict>'``.

    Returns:
        tuple[dict, list[str], dict]: ``(encoder_state, dropped, shape)``: the encoder's
        weights under ``SkeletonTransformer``'s names (no prefix), the dropped decoder /
        head keys, and the ``SkeletonTransformer`` arguments the weights fix
        (``in_channels``, ``num_frames``, ``num_joints``, ``patch_len``, ``embed_dims``,
        ``depth``, ``mlp_ratio``, ``qkv_bias``).

    Raises:
        NotAMampCheckpoint: no MAMP patch embedding, a key that is neither MAMP's encoder
            nor its decoder / head, or a tensor of an unexpected shape; the message
            names the file and the keys.
    """
    if PATCH_KEY not in state:
        roots = sorted({key.split('.')[0] for key in state})
        hint = ''
        if any(key.startswith('backbone.') for key in state) or 'state_dict' in state:
            hint = (" It looks like a checkpoint of this project already: load it directly "
                    "with init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.').")
        raise NotAMampCheckpoint(
            f'{source} is not a MAMP checkpoint: its model has no {PATCH_KEY!r} (MAMP\'s '
            f'patch embedding); its keys start with {roots[:8]}.{hint}')
    conv = state[PATCH_KEY]
    if conv.ndim != 4 or conv.shape[3] != 1:
        raise NotAMampCheckpoint(
            f'{source}: {PATCH_KEY} has shape {tuple(conv.shape)}, expected (D, C, l, 1): '
            'a temporal patch of l frames of one joint (MAMP with patch_size=1)')
    dims, channels, patch_len, _ = conv.shape
    encoder = {'patch_embed.weight': conv[..., 0].permute(0, 2, 1).reshape(
        dims, patch_len * channels)}
    dropped, unknown, blocks = [], [], set()
    for key, value in state.items():
        block = _BLOCK_KEY.match(key)
        if key == PATCH_KEY:
            continue
        if key in TOP_NAMES:
            encoder[TOP_NAMES[key]] = value
        elif block and block.group(2) in BLOCK_NAMES:
            blocks.add(int(block.group(1)))
            encoder[f'blocks.{block.group(1)}.{BLOCK_NAMES[block.group(2)]}'] = value
        elif DROPPED.match(key):
            dropped.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise NotAMampCheckpoint(
            f'{source}: {len(unknown)} keys are neither MAMP\'s encoder nor its decoder / head '
            f'(e.g. {sorted(unknown)[:4]}): not the MAMP encoder this converter knows')
    depth = len(blocks)
    missing = [name for name in ('pos_embed.temporal', 'pos_embed.spatial', 'norm.weight')
               if name not in encoder]
    if depth == 0 or sorted(blocks) != list(range(depth)) or missing:
        raise NotAMampCheckpoint(
            f'{source}: an incomplete MAMP encoder: blocks {sorted(blocks)}, missing '
            f'{missing} (MAMP names: temp_embed, pos_embed, norm.weight)')
    temporal, spatial = encoder['pos_embed.temporal'], encoder['pos_embed.spatial']
    if temporal.ndim != 4 or spatial.ndim != 4 or temporal.shape[0::2] != (1, 1) or \
            spatial.shape[:2] != (1, 1):
        raise NotAMampCheckpoint(
            f'{source}: temp_embed {tuple(temporal.shape)} and pos_embed '
            f'{tuple(spatial.shape)}: expected (1, T / l, 1, D) and (1, 1, V, D)')
    fc1 = encoder.get('blocks.0.mlp.0.weight')
    hidden = fc1.shape[0] if fc1 is not None else 4 * dims  # else check_loads names it
    shape = dict(in_channels=int(channels), num_frames=int(temporal.shape[1] * patch_len),
                 num_joints=int(spatial.shape[2]), patch_len=int(patch_len),
                 embed_dims=int(dims), depth=depth, mlp_ratio=hidden / dims,
                 qkv_bias='blocks.0.attn.qkv.bias' in encoder)
    encoder = {key: value.detach().clone().contiguous() for key, value in encoder.items()}
    return encoder, sorted(dropped), shape


def check_loads(encoder_state: Dict[str, torch.Tensor], shape: dict, source: str) -> None:
    """Load ``encoder_state`` strictly into a ``SkeletonTransformer`` of ``shape``.

    Raises:
        NotAMampCheckpoint: missing, extra or differently shaped weights, naming them.
    """
    encoder = SkeletonTransformer(num_heads=1, **shape)  # heads do not change the weights
    try:
        encoder.load_state_dict(encoder_state, strict=True)
    except RuntimeError as error:
        raise NotAMampCheckpoint(f'{source}: the converted weights do not fit a '
                                 f'SkeletonTransformer({shape}): {error}') from None


def backbone_config(shape: dict, num_heads: Optional[int], checkpoint: str) -> str:
    """The backbone dict that loads the converted checkpoint, as config text."""
    args = dict(shape, num_heads=num_heads or 8)
    text = ', '.join(f'{key}={value!r}' for key, value in args.items())
    return (f"backbone=dict(type='SkeletonTransformer', {text},\n"
            f"              init_cfg=dict(type='Pretrained', checkpoint={checkpoint!r}, "
            "prefix='backbone.'))")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official MAMP checkpoint to a SkeletonTransformer checkpoint '
        "(MMEngine layout, encoder under 'backbone.').")
    parser.add_argument('src', help="MAMP's checkpoint (checkpoint-399.pth, ...)")
    parser.add_argument('dst', help='output .pth')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        state, info = read_mamp_checkpoint(args.src)
        encoder, dropped, shape = convert_mamp_state(state, args.src)
        check_loads(encoder, shape, args.src)
    except (OSError, ValueError, pickle.UnpicklingError) as error:
        # UnpicklingError: the loader refused the file (not a checkpoint, or objects
        # outside the checkpoint allowlist; the message says which and what to do).
        print(f'error: {error}\nno output written', file=sys.stderr)
        return 1
    num_heads = info['model_args'].get('num_heads')
    backbone_cfg = dict(type='SkeletonTransformer', **shape)
    if num_heads:
        backbone_cfg['num_heads'] = int(num_heads)
    meta = dict(converted_from=osp.basename(args.src), converter='mamp_to_gfp',
                mamp_epoch=info['epoch'], backbone_cfg=backbone_cfg)
    buffer = io.BytesIO()
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in encoder.items()}, 'meta': meta},
               buffer)
    atomic_write(args.dst, buffer.getvalue())
    groups = sorted({key.split('.')[0] for key in dropped})
    print(f'{args.src}: MAMP encoder, {shape["depth"]} blocks, width {shape["embed_dims"]}, '
          f'{shape["num_frames"]}-frame clips of {shape["num_joints"]} joints '
          f'({shape["patch_len"]}-frame patches), epoch {info["epoch"]}')
    print(f'wrote {args.dst}: {len(encoder)} encoder tensors under \'backbone.\'; dropped '
          f'{len(dropped)} decoder / head tensors ({", ".join(groups) or "none"})')
    heads = (f'num_heads {num_heads} from the checkpoint\'s args' if num_heads else
             'num_heads is not stored in the weights: MAMP uses 8; set yours')
    print(f'load it with ({heads}):\n  ' + backbone_config(shape, num_heads, args.dst))
    return 0


if __name__ == '__main__':
    sys.exit(main())
