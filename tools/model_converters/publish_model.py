"""Publish a pre-trained encoder: its weights only, with their hash in the file name.

    python tools/model_converters/publish_model.py CHECKPOINT OUT_PREFIX

As MMAction2's ``publish_model.py``, but keeps the backbone alone: from a pre-training
(GFP / MAMP) or recognizer checkpoint it writes ``OUT_PREFIX-<sha8>.pth`` (a trailing
``.pth`` of ``OUT_PREFIX`` is dropped), where ``<sha8>`` is the first 8 hex digits of
the file's SHA-256, holding::

    {'state_dict': {'backbone.<name>': tensor, ...},
     'meta': {'published_from': 'epoch_400.pth', 'epoch': ..., 'iter': ...,
              'mmengine_version': ..., 'backbone_cfg': {...}}}

Decoder, target generator, heads, optimizer, scheduler and message-hub states are left
out. ``backbone_cfg`` is the backbone of the config saved in the checkpoint (MMEngine
keeps the config in ``meta['cfg']``; ``mamp_to_gfp.py`` writes ``meta['backbone_cfg']``),
without its ``init_cfg``; when there is one, the weights are checked to load strictly
into a backbone built from it. Users load the file with
``init_cfg=dict(type='Pretrained', checkpoint='OUT_PREFIX-<sha8>.pth', prefix='backbone.')``.
"""
import argparse
import copy
import hashlib
import io
import os.path as osp
import pickle
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes, registers the backbones)
from gfp_mmaction.utils import atomic_write  # noqa: E402

PREFIX = 'backbone.'
KEPT_META = ('epoch', 'iter', 'mmengine_version', 'experiment_name', 'seed')


def backbone_state(checkpoint: dict, source: str) -> Tuple[Dict[str, torch.Tensor], int]:
    """The ``backbone.*`` tensors of a checkpoint.

    Args:
        checkpoint (dict): an MMEngine checkpoint (``{'state_dict': ...}``) or a bare
            state dict.
        source (str): the file, for error messages.

    Returns:
        tuple[dict[str, torch.Tensor], int]: ``(state, dropped)``: the backbone's tensors
        under their ``backbone.`` keys, and how many other tensors the state dict held.

    Raises:
        ValueError: no state dict, or nothing under ``backbone.``; the message names the
            file and the prefixes it has.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f'{source} holds no state dict (expected an MMEngine checkpoint '
                         f'{{"state_dict": ...}} or a dict of tensors)')
    kept = {key: value for key, value in state.items() if key.startswith(PREFIX)}
    if not kept:
        roots = sorted({key.split('.')[0] + '.' for key in state})
        raise ValueError(
            f'{source} has no weights under {PREFIX!r}: its keys start with {roots[:8]}. '
            'Publish a checkpoint of this project (pre-training or recognizer); a checkpoint '
            'of the official MAMP code goes through tools/model_converters/mamp_to_gfp.py '
            'first.')
    return kept, len(state) - len(kept)


def saved_backbone_cfg(checkpoint: dict) -> Optional[dict]:
    """The backbone config a checkpoint carries, or None.

    ``meta['backbone_cfg']`` (written by this tool and by ``mamp_to_gfp.py``), else
    ``model.backbone`` of the config text MMEngine's runner saves in ``meta['cfg']``.

    Args:
        checkpoint (dict): the loaded checkpoint.

    Returns:
        dict | None: the backbone dict without ``init_cfg`` (a training-machine path), or
        None.
    """
    meta = (checkpoint.get('meta') or {}) if isinstance(checkpoint, dict) else {}
    backbone = meta.get('backbone_cfg')
    text = meta.get('cfg')
    if not isinstance(backbone, dict) and isinstance(text, str) and text.strip():
        backbone = Config.fromstring(text, '.py').get('model', {}).get('backbone')
    if not backbone:
        return None
    backbone = copy.deepcopy(backbone.to_dict() if hasattr(backbone, 'to_dict') else backbone)
    backbone.pop('init_cfg', None)
    return backbone


def check_loads(state: Dict[str, torch.Tensor], backbone_cfg: dict, source: str) -> None:
    """Build ``backbone_cfg`` and load ``state`` into it strictly.

    Raises:
        ValueError: missing, extra or differently shaped weights, naming them.
    """
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    backbone = MODELS.build(copy.deepcopy(backbone_cfg))
    try:
        backbone.load_state_dict({k[len(PREFIX):]: v for k, v in state.items()}, strict=True)
    except RuntimeError as error:
        raise ValueError(f'{source}: the backbone weights do not fit the backbone of its own '
                         f'config ({backbone_cfg.get("type")}): {error}') from None


def published_path(out_prefix: str, data: bytes) -> str:
    """``OUT_PREFIX-<first 8 hex digits of sha256(data)>.pth``."""
    stem = out_prefix[:-len('.pth')] if out_prefix.endswith('.pth') else out_prefix
    return f'{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth'


def publish(src: str, out_prefix: str) -> Tuple[str, dict]:
    """Write the published file.

    Args:
        src (str): the pre-training or recognizer checkpoint.
        out_prefix (str): output name without the hash (a trailing ``.pth`` is dropped).

    Returns:
        tuple[str, dict]: ``(path, summary)``: the file written and ``tensors``,
        ``dropped``, ``bytes``, ``sha256``, ``checked`` (whether the weights were loaded
        into the saved config's backbone).
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'checkpoint {src} does not exist')
    checkpoint = CheckpointLoader.load_checkpoint(src, map_location='cpu')
    state, dropped = backbone_state(checkpoint, src)
    backbone_cfg = saved_backbone_cfg(checkpoint)
    if backbone_cfg is not None:
        check_loads(state, backbone_cfg, src)
    source_meta = checkpoint.get('meta') or {}
    meta = {key: source_meta[key] for key in KEPT_META if key in source_meta}
    meta['published_from'] = osp.basename(src)
    if backbone_cfg is not None:
        meta['backbone_cfg'] = backbone_cfg
    buffer = io.BytesIO()
    torch.save({'state_dict': {k: v.detach().clone() for k, v in state.items()}, 'meta': meta},
               buffer)
    data = buffer.getvalue()
    path = published_path(out_prefix, data)
    atomic_write(path, data)
    return path, dict(tensors=len(state), dropped=dropped, bytes=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), checked=backbone_cfg is not None)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Publish the backbone of a checkpoint as OUT_PREFIX-<sha256[:8]>.pth')
    parser.add_argument('in_file', help='pre-training or recognizer checkpoint')
    parser.add_argument('out_prefix', help='output name without the hash, e.g. '
                        'gfp_ntu60_xsub_encoder (a trailing .pth is dropped)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        path, summary = publish(args.in_file, args.out_prefix)
    except (OSError, ValueError, pickle.UnpicklingError) as error:
        print(f'error: {error}\nno output written', file=sys.stderr)
        return 1
    checked = ('loads strictly into the backbone of its saved config' if summary['checked']
               else 'no config saved in the checkpoint: not test-loaded')
    print(f'wrote {path}: {summary["tensors"]} backbone tensors, {summary["bytes"] / 1e6:.1f} '
          f'MB, sha256 {summary["sha256"]}; left out {summary["dropped"]} other tensors and '
          f'the optimizer / training state; {checked}')
    print(f"load it with init_cfg=dict(type='Pretrained', checkpoint='{path}', "
          "prefix='backbone.')")
    return 0


if __name__ == '__main__':
    sys.exit(main())
