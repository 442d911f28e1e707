"""The MAMP skeleton transformer encoder, shared by GFP, MAMP and the downstream models."""
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
from mmaction.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn
from torch.func import functional_call

from ...utils import patchify
from ..utils import (
    FactorisedPosEmbed,
    TransformerBlock,
    gather_visible,
    init_transformer_weights,
    visible_indices,
)

__all__ = ['SkeletonTransformer', 'load_encoder_state']


@MODELS.register_module()
class SkeletonTransformer(BaseModule):
    """Transformer over joint-track patches (MAMP's encoder).

    Each joint's track is cut into ``patch_len``-frame patches and embedded linearly
    (the same map as MAMP's ``(patch_len, 1)`` convolution), giving a ``(T_e, V)`` grid
    of tokens with factorised learned positional embeddings and no cls token.

    Two modes:
      * :meth:`forward_visible` (pre-training): only the visible tokens are encoded.
      * :meth:`forward` (downstream): every token; ``(N, M, T, V, C) -> (N, M, D, T_e, V)``,
        the layout MMAction2's ``RecognizerGCN`` and ``GCNHead`` expect.

    Args:
        in_channels (int): coordinates per joint ``C``. Defaults to 3.
        num_frames (int): clip length ``T`` the positional table is made for; other
            lengths divisible by ``patch_len`` are accepted (the table is resized at run
            time), and a checkpoint whose table was made for another length loads (the
            table is resized at load, :meth:`_prepare_pos_embed`). Defaults to 120.
        num_joints (int): ``V``. Defaults to 25.
        patch_len (int): frames per token ``l``. Defaults to 4.
        embed_dims (int): width ``D``. Defaults to 256.
        depth (int): transformer blocks. Defaults to 8.
        num_heads (int): attention heads. Defaults to 8.
        mlp_ratio (float): MLP hidden width / ``D``. Defaults to 4.0.
        qkv_bias (bool): bias on the qkv projection. Defaults to True.
        drop_path_rate (float): stochastic depth of the last block (linear from 0).
            Defaults to 0.0.
        frozen (bool): keep every parameter fixed and the module in eval mode (linear
            probe). Defaults to False.
        init_cfg (dict | list[dict], optional): MMEngine init config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``: loaded
            strictly (:meth:`init_weights`). Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 3,
                 num_frames: int = 120,
                 num_joints: int = 25,
                 patch_len: int = 4,
                 embed_dims: int = 256,
                 depth: int = 8,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.0,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.0,
                 frozen: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_frames % patch_len:
            raise ValueError(f'SkeletonTransformer: num_frames={num_frames} is not divisible '
                             f'by patch_len={patch_len}')
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.patch_len = patch_len
        self.embed_dims = embed_dims
        self.num_rows = num_frames // patch_len
        self.frozen = frozen

        self.patch_embed = nn.Linear(patch_len * in_channels, embed_dims)
        self.pos_embed = FactorisedPosEmbed(self.num_rows, num_joints, embed_dims)
        drop_rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dims, num_heads, mlp_ratio, qkv_bias, drop_path=rate)
            for rate in drop_rates)
        self.norm = nn.LayerNorm(embed_dims)
        self.apply(init_transformer_weights)
        if frozen:
            self.requires_grad_(False)
        # Any load (load_state_dict, MMEngine's load_checkpoint, a runner's load_from)
        # of a table made for another clip length resizes it, as mmpretrain's
        # VisionTransformer does for its pos_embed.
        self._register_load_state_dict_pre_hook(self._prepare_pos_embed)

    def train(self, mode: bool = True):
        return super().train(mode and not self.frozen)

    def init_weights(self) -> None:
        """MMEngine's initialisation, with a ``Pretrained`` init_cfg loaded strictly.

        MMEngine's ``PretrainedInit`` loads with ``strict=False`` and only logs what did
        not match, so a wrong checkpoint or prefix would leave a randomly initialised
        encoder behind a "successful" run. Here the checkpoint is read and checked by
        :func:`load_encoder_state` first (a clear error unless it holds every encoder
        weight, with the right shape, and nothing else under the prefix), then the other
        init_cfgs run, as in MMEngine, and the pre-trained weights overwrite them.
        """
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        pretrained = [cfg for cfg in cfgs if cfg and cfg.get('type') == 'Pretrained']
        if not pretrained or self._is_init:
            super().init_weights()
            return
        # Read (and check) before anything is initialised: a bad checkpoint fails at once.
        states = [load_encoder_state(self, cfg['checkpoint'], cfg.get('prefix'),
                                     map_location=cfg.get('map_location', 'cpu'))
                  for cfg in pretrained]
        init_cfg = self.init_cfg
        self.init_cfg = [cfg for cfg in cfgs if cfg and cfg not in pretrained] or None
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
        for cfg, state in zip(pretrained, states):
            self.load_state_dict(state, strict=True)
            print_log(f'SkeletonTransformer: loaded {len(state)} encoder tensors from '
                      f'{cfg["checkpoint"]} (prefix {cfg.get("prefix")!r})', logger='current')

    def _prepare_pos_embed(self, state_dict: Dict[str, torch.Tensor], prefix: str,
                           *args, **kwargs) -> None:
        """Load-state-dict pre-hook: resize a temporal table made for another clip length.

        A ``pos_embed.temporal`` of ``(1, T_e', 1, D)`` with ``T_e'`` rows other than the
        encoder's is replaced, in ``state_dict``, by the table resized to the encoder's
        rows (MAMP's ``interpolate_temp_embed``), with the interpolation the encoder
        applies to other lengths at run time (:class:`FactorisedPosEmbed`). Anything else
        is left to ``load_state_dict``'s own checks.

        Args:
            state_dict (dict): the state dict being loaded; changed in place.
            prefix (str): this module's key prefix in it.
        """
        key = prefix + 'pos_embed.temporal'
        table = state_dict.get(key)
        own = self.pos_embed.temporal
        if not isinstance(table, torch.Tensor) or table.ndim != own.ndim or \
                table.shape[0::2] != own.shape[0::2] or table.shape[1] == own.shape[1]:
            return
        # FactorisedPosEmbed's own forward with the checkpoint's table and a zero spatial
        # table of one joint returns exactly the resized temporal table.
        with torch.no_grad():
            tables = dict(temporal=table.float(),
                          spatial=table.new_zeros(1, 1, 1, table.shape[-1], dtype=torch.float))
            resized = functional_call(self.pos_embed, tables, (own.shape[1], ))
        state_dict[key] = resized.to(table.dtype)
        print_log(f'SkeletonTransformer: temporal position table {key} resized from '
                  f'{table.shape[1]} to {own.shape[1]} rows', logger='current')

    @property
    def num_layers(self) -> int:
        """Blocks, for layer-wise learning-rate decay."""
        return len(self.blocks)

    def embed(self, joints: torch.Tensor) -> torch.Tensor:
        """``(B, T, V, C)`` joints -> ``(B, T_e, V, D)`` tokens with positions added."""
        *_, T, V, C = joints.shape
        if V != self.num_joints or C != self.in_channels:
            raise ValueError(f'SkeletonTransformer expects {self.num_joints} joints x '
                             f'{self.in_channels} coordinates, got input {tuple(joints.shape)}')
        tokens = self.patch_embed(patchify(joints, self.patch_len))
        return tokens + self.pos_embed(tokens.shape[1])

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L, D) -> (B, L, D)`` through the blocks and the final norm."""
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_visible(self, joints: torch.Tensor, mask: torch.Tensor,
                        num_visible: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pre-training mode: encode the visible tokens only.

        Args:
            joints (torch.Tensor): ``(B, T, V, C)``, persons folded into ``B``.
            mask (torch.Tensor): ``(B, L)`` bool, True = masked, ``L = T_e * V``.
            num_visible (int): visible tokens per sequence ``L_vis``.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: latent ``(B, L_vis, D)`` and the visible
            tokens' grid positions ``(B, L_vis)``.
        """
        tokens = self.embed(joints).flatten(1, 2)
        if mask.shape != tokens.shape[:2]:
            raise ValueError(f'token mask of shape {tuple(mask.shape)} does not match '
                             f'{tuple(tokens.shape[:2])} tokens (batch, T_e * V)')
        index = visible_indices(mask, num_visible)
        return self.encode(gather_visible(tokens, index)), index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Downstream mode: ``(N, M, T, V, C) -> (N, M, D, T_e, V)``."""
        N, M, T, V, C = x.shape
        tokens = self.embed(x.reshape(N * M, T, V, C))
        rows = tokens.shape[1]
        features = self.encode(tokens.flatten(1, 2))
        return features.reshape(N, M, rows, V, self.embed_dims).permute(0, 1, 4, 2, 3)


def load_encoder_state(encoder: SkeletonTransformer, checkpoint: str,
                       prefix: Optional[str] = None,
                       map_location: str = 'cpu') -> Dict[str, torch.Tensor]:
    """Read ``encoder``'s weights from a checkpoint, checked strictly against the encoder.

    The one check of pre-trained encoder weights: the backbone's ``init_weights``
    (``init_cfg=dict(type='Pretrained', ...)``), ``tools/test.py`` and
    ``tools/extract_features.py`` call it. Load the result with
    ``encoder.load_state_dict(state)``.

    Args:
        encoder (SkeletonTransformer): the encoder to be loaded (only its ``state_dict``
            keys and shapes are read).
        checkpoint (str): an MMEngine checkpoint (``{'state_dict': ...}``) or a bare state
            dict; a local path or anything MMEngine's ``CheckpointLoader`` reads.
        prefix (str, optional): the encoder's key prefix in the checkpoint, e.g.
            ``'backbone.'`` for a GFP / MAMP pre-training checkpoint or a recognizer
            checkpoint. Defaults to None (no prefix).
        map_location (str): as :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        dict: ``{key: tensor}`` with exactly ``encoder.state_dict()``'s keys and shapes (a
        temporal table of another clip length resized by the encoder's load hook,
        :meth:`SkeletonTransformer._prepare_pos_embed`).

    Raises:
        FileNotFoundError: a local checkpoint path that does not exist.
        ValueError: nothing under ``prefix``, encoder weights missing, extra weights under
            ``prefix`` (a deeper or different encoder) or shapes that differ (other than
            the temporal table's row count); the message names the file, the prefix and
            a few keys.
    """
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'pre-trained checkpoint {checkpoint} does not exist: point '
            '`model.backbone.init_cfg.checkpoint` at a pre-training checkpoint')
    loaded = _load_checkpoint(checkpoint, map_location=map_location)
    state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f'{checkpoint} holds no state dict (expected a checkpoint saved by '
                         f'MMEngine, or a dict of tensors), got {type(loaded).__name__}')
    prefix = prefix or ''
    if prefix and not prefix.endswith('.'):
        prefix += '.'
    found = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    where = f'checkpoint {checkpoint} (prefix {prefix!r})'
    if not found:
        roots = sorted({key.split('.')[0] + '.' for key in state})
        raise ValueError(
            f'{where} holds no weights under the prefix. Its keys start with {roots[:8]}, '
            f'e.g. {sorted(state)[:3]}. This project\'s checkpoints (GFP / MAMP pre-training, '
            "recognizers) keep the encoder under 'backbone.'. A checkpoint of the official "
            "MAMP code (weights under 'model', named 'joints_embed.*', 'temp_embed', "
            "'blocks.*') loads under no prefix: convert it first with "
            '`python tools/model_converters/mamp_to_gfp.py MAMP_CHECKPOINT OUT.pth` and '
            'point init_cfg.checkpoint at OUT.pth.')
    expected = encoder.state_dict()
    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    if missing or unexpected:
        raise ValueError(
            f'{where} does not match the encoder: {len(missing)} of its '
            f'{len(expected)} weights are missing (e.g. {missing[:4]}) and {len(unexpected)} '
            f'keys under the prefix are not the encoder\'s (e.g. {unexpected[:4]}); found '
            f'e.g. {sorted(found)[:4]}. Build the encoder as in pre-training (depth, '
            'embed_dims, ...), or fix the prefix.')
    found = {key: found[key] for key in expected}
    encoder._prepare_pos_embed(found, '')  # what loading it will do: resize the table
    shapes = [(key, tuple(found[key].shape), tuple(value.shape))
              for key, value in expected.items() if found[key].shape != value.shape]
    if shapes:
        raise ValueError(
            f'{where}: {len(shapes)} weights differ in shape (key, checkpoint, encoder), '
            f'e.g. {shapes[:3]}. Build the encoder as in pre-training (embed_dims, '
            'patch_len, ...).')
    return found
