"""tools/model_converters: an official-MAMP-layout checkpoint converted and loaded strictly
into SkeletonTransformer gives MAMP's encoder features; foreign files fail clearly; a
published encoder is backbone-only, named by its hash, and loads through init_cfg."""
import argparse
import hashlib
import importlib.util
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from torch import nn

from gfp_mmaction.models.backbones.skeleton_transformer import SkeletonTransformer

REPO = Path(__file__).resolve().parents[2]


def load_converter(name):
    path = REPO / 'tools' / 'model_converters' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'gfp_model_converter_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mamp_to_gfp = load_converter('mamp_to_gfp')
publish_model = load_converter('publish_model')


# --------------------------------------------------------------- MAMP's encoder, in MAMP's names
# Written from the structure of model_mamp/transformer.py in maoyunyao/MAMP: the module
# and parameter names, the (t_patch, 1) convolution over (N, C, T, V), factorised
# embeddings added before the blocks, pre-LN blocks with an explicit softmax attention,
# a final LayerNorm; the decoder exists only so that its keys are in the checkpoint.
class MampMlp(nn.Module):

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class MampAttention(nn.Module):

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        B, L, D = x.shape
        q, k, v = self.qkv(x).reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        weights = (q @ k.transpose(-2, -1) / math.sqrt(D // self.heads)).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(B, L, D))


class MampBlock(nn.Module):

    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), MampAttention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), MampMlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MampSkeleEmbed(nn.Module):

    def __init__(self, channels, dim, t_patch):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=(t_patch, 1), stride=(t_patch, 1))

    def forward(self, x):  # (NM, T, V, C) -> (NM, T / t_patch, V, D)
        return self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class MampTransformer(nn.Module):

    def __init__(self, channels=3, dim=32, depth=2, heads=4, frames=16, joints=25, t_patch=4,
                 decoder_depth=1):
        super().__init__()
        self.joints_embed = MampSkeleEmbed(channels, dim, t_patch)
        self.blocks = nn.ModuleList(MampBlock(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.temp_embed = nn.Parameter(torch.zeros(1, frames // t_patch, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1, joints, dim))
        self.decoder_embed = nn.Linear(dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.decoder_blocks = nn.ModuleList(MampBlock(dim, heads) for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(dim)
        self.decoder_temp_embed = nn.Parameter(torch.zeros(1, frames // t_patch, 1, dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, 1, joints, dim))
        self.decoder_pred = nn.Linear(dim, t_patch * channels)

    def encode(self, x):
        """MAMP's downstream encoder: ``(N, C, T, V, M) -> (N, M, T / t_patch, V, D)``."""
        N, C, T, V, M = x.shape
        x = self.joints_embed(x.permute(0, 4, 2, 3, 1).reshape(N * M, T, V, C))
        _, TP, VP, D = x.shape
        x = (x + self.pos_embed[:, :, :VP] + self.temp_embed[:, :TP]).reshape(N * M, TP * VP, D)
        for block in self.blocks:
            x = block(x)
        return self.norm(x).reshape(N, M, TP, VP, D)


def random_mamp(seed=0, **kwargs):
    """MAMP's model with every tensor random (LayerNorm scales around 1), so that a wrong
    name, transpose or order in the conversion changes the features."""
    torch.manual_seed(seed)
    model = MampTransformer(**kwargs)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.normal_(1.0 if name.endswith('norm1.weight') or name.endswith('norm2.weight')
                          or name == 'norm.weight' else 0.0, 0.2)
    return model.eval()


def save_like_mamp(model, path, **model_args):
    """MAMP's ``misc.save_model`` layout."""
    torch.save({'model': model.state_dict(), 'optimizer': {'state': {}, 'param_groups': []},
                'epoch': 399, 'scaler': {'scale': 65536.0},
                'args': argparse.Namespace(model_args=dict(model_args), lr=1e-3, epochs=400)},
               path)
    return path


# --------------------------------------------------------------- conversion
def test_patch_embedding_mapping_by_hand():
    """W_linear[d, k * C + c] = W_conv[d, c, k, 0]: frame k's coordinate c of a patch."""
    model = random_mamp(dim=8, depth=1, heads=2)
    encoder, dropped, shape = mamp_to_gfp.convert_mamp_state(model.state_dict())
    conv = model.joints_embed.proj.weight
    linear = encoder['patch_embed.weight']
    assert linear.shape == (8, 12)
    for d, k, c in [(0, 0, 0), (3, 1, 2), (7, 3, 1), (5, 2, 0)]:
        assert linear[d, k * 3 + c] == conv[d, c, k, 0]
    assert shape == dict(in_channels=3, num_frames=16, num_joints=25, patch_len=4,
                         embed_dims=8, depth=1, mlp_ratio=4.0, qkv_bias=True)
    assert 'decoder_blocks.0.attn.qkv.weight' in dropped and 'mask_token' in dropped
    assert not any(key.startswith(('decoder', 'mask')) for key in encoder)


def test_converted_mamp_checkpoint_loads_strictly_and_gives_mamps_features(tmp_path, capsys):
    mamp = random_mamp(dim=32, depth=2, heads=4)
    src = save_like_mamp(mamp, tmp_path / 'checkpoint-399.pth', num_heads=4, depth=2)
    out = tmp_path / 'mamp_gfp.pth'
    assert mamp_to_gfp.main([str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'MAMP encoder, 2 blocks, width 32, 16-frame clips of 25 joints' in printed
    # decoder_embed 2, mask_token 1, one decoder block 12, decoder_norm 2, the two decoder
    # embeddings 2, decoder_pred 2
    assert 'dropped 21 decoder / head tensors' in printed
    assert 'num_heads=4' in printed

    saved = torch.load(out, weights_only=True)
    assert all(key.startswith('backbone.') for key in saved['state_dict'])
    assert saved['meta']['backbone_cfg'] == dict(
        type='SkeletonTransformer', in_channels=3, num_frames=16, num_joints=25, patch_len=4,
        embed_dims=32, depth=2, mlp_ratio=4.0, qkv_bias=True, num_heads=4)
    assert saved['meta']['mamp_epoch'] == 399

    encoder = SkeletonTransformer(num_frames=16, embed_dims=32, depth=2, num_heads=4,
                                  init_cfg=dict(type='Pretrained', checkpoint=str(out),
                                                prefix='backbone.'))
    encoder.init_weights()
    encoder.eval()
    clips = torch.randn(2, 3, 16, 25, 2)  # MAMP's (N, C, T, V, M)
    with torch.no_grad():
        expected = mamp.encode(clips)                        # (N, M, T_e, V, D)
        features = encoder(clips.permute(0, 4, 2, 3, 1))     # (N, M, D, T_e, V)
    features = features.permute(0, 1, 3, 4, 2)
    assert features.shape == expected.shape == (2, 2, 4, 25, 32)
    assert expected.abs().mean() > 0.1  # not trivially equal
    torch.testing.assert_close(features, expected, atol=1e-5, rtol=1e-5)

    # Published as is, it is test-loaded into the backbone the converter recorded.
    assert publish_model.main([str(out), str(tmp_path / 'mamp_encoder')]) == 0
    assert 'loads strictly into the backbone of its saved config' in capsys.readouterr().out


def test_linear_probe_checkpoint_drops_the_head_and_a_module_prefix(tmp_path):
    mamp = random_mamp(dim=16, depth=1, heads=2)
    state = {f'module.{k}': v for k, v in mamp.state_dict().items()
             if not k.startswith(('decoder', 'mask'))}
    state['module.head.fc.weight'] = torch.randn(60, 16)
    state['module.head.fc.bias'] = torch.randn(60)
    src = tmp_path / 'linprobe.pth'
    torch.save({'model': state, 'epoch': 99}, src)
    loaded, info = mamp_to_gfp.read_mamp_checkpoint(str(src))
    encoder, dropped, shape = mamp_to_gfp.convert_mamp_state(loaded, str(src))
    assert dropped == ['head.fc.bias', 'head.fc.weight'] and info['epoch'] == 99
    assert len(encoder) == len(SkeletonTransformer(num_frames=16, embed_dims=16, depth=1,
                                                   num_heads=2).state_dict())


def test_checkpoints_that_are_not_mamps_get_a_clear_error(tmp_path, capsys):
    gfp_like = tmp_path / 'epoch_400.pth'
    torch.save({'state_dict': {'backbone.patch_embed.weight': torch.zeros(4, 12)}, 'meta': {}},
               gfp_like)
    assert mamp_to_gfp.main([str(gfp_like), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert f"{gfp_like} is not a MAMP checkpoint: its model has no 'joints_embed.proj.weight'" \
        in err
    assert "checkpoint of this project already" in err and "prefix='backbone.'" in err
    assert not (tmp_path / 'out.pth').exists()

    # MAMP's layout, but an encoder it does not know (an extra relative-position table).
    state = random_mamp(dim=8, depth=1, heads=2).state_dict()
    state['blocks.0.attn.rel_pos'] = torch.zeros(3)
    other = tmp_path / 'variant.pth'
    torch.save({'model': state}, other)
    assert mamp_to_gfp.main([str(other), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert "1 keys are neither MAMP's encoder nor its decoder / head" in err
    assert "'blocks.0.attn.rel_pos'" in err

    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint\n')
    assert mamp_to_gfp.main([str(text), str(tmp_path / 'out.pth')]) == 1
    assert str(text) in capsys.readouterr().err
    assert mamp_to_gfp.main([str(tmp_path / 'absent.pth'), str(tmp_path / 'out.pth')]) == 1
    assert 'absent.pth does not exist' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()


def test_load_encoder_state_points_an_official_mamp_checkpoint_to_the_converter(tmp_path):
    src = save_like_mamp(random_mamp(dim=8, depth=1, heads=2), tmp_path / 'mamp.pth')
    encoder = SkeletonTransformer(num_frames=16, embed_dims=8, depth=1, num_heads=2,
                                  init_cfg=dict(type='Pretrained', checkpoint=str(src),
                                                prefix='backbone.'))
    with torch.serialization.safe_globals([argparse.Namespace]):
        with pytest.raises(ValueError, match='tools/model_converters/mamp_to_gfp.py'):
            encoder.init_weights()


# --------------------------------------------------------------- publishing
def tiny_gfp_checkpoint(path):
    """A built GFP pre-training model saved as the runner does, config text in meta."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO / 'configs/gfp/gfp_synthetic_xsub.py'))
    width = 16
    cfg.merge_from_dict({
        'model.backbone.embed_dims': width, 'model.backbone.depth': 1,
        'model.backbone.num_heads': 2, 'model.neck.in_dims': width,
        'model.neck.embed_dims': width, 'model.neck.num_heads': 2,
        'model.neck.target_dims': width, 'model.neck.global_hidden': 2 * width,
        'model.target_generator.target_dims': width,
        'model.target_generator.local_hidden': width,
        'model.target_generator.global_hidden': 2 * width})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'optimizer': {'state': {}},
                'meta': dict(cfg=cfg.pretty_text, epoch=60, iter=600, seed=0,
                             mmengine_version='0.10.7')}, path)
    return model


def test_publish_keeps_the_backbone_names_the_file_by_its_hash_and_loads(tmp_path, capsys):
    src = tmp_path / 'epoch_60.pth'
    model = tiny_gfp_checkpoint(src)
    assert publish_model.main([str(src), str(tmp_path / 'gfp_synthetic_encoder.pth')]) == 0
    printed = capsys.readouterr().out
    published = list(tmp_path.glob('gfp_synthetic_encoder-*.pth'))
    assert len(published) == 1
    data = published[0].read_bytes()
    assert published[0].name == f'gfp_synthetic_encoder-{hashlib.sha256(data).hexdigest()[:8]}.pth'
    assert f'wrote {published[0]}' in printed and 'loads strictly' in printed

    saved = torch.load(published[0], weights_only=True)
    backbone = {f'backbone.{k}' for k in model.backbone.state_dict()}
    assert set(saved['state_dict']) == backbone
    assert set(saved) == {'state_dict', 'meta'}
    assert saved['meta']['epoch'] == 60 and saved['meta']['published_from'] == 'epoch_60.pth'
    assert saved['meta']['backbone_cfg']['embed_dims'] == 16
    assert 'init_cfg' not in saved['meta']['backbone_cfg']

    encoder = SkeletonTransformer(embed_dims=16, depth=1, num_heads=2,
                                  init_cfg=dict(type='Pretrained', checkpoint=str(published[0]),
                                                prefix='backbone.'))
    encoder.init_weights()
    clips = torch.randn(1, 2, 120, 25, 3)
    model.backbone.eval()
    encoder.eval()
    with torch.no_grad():
        torch.testing.assert_close(encoder(clips), model.backbone(clips), atol=0, rtol=0)


def test_publish_refuses_weights_that_do_not_fit_their_saved_config(tmp_path, capsys):
    src = tmp_path / 'epoch_60.pth'
    tiny_gfp_checkpoint(src)
    checkpoint = torch.load(src, weights_only=False)
    checkpoint['meta'] = dict(backbone_cfg=dict(type='SkeletonTransformer', embed_dims=16,
                                                depth=2, num_heads=2))
    torch.save(checkpoint, src)
    assert publish_model.main([str(src), str(tmp_path / 'out')]) == 1
    err = capsys.readouterr().err
    assert f'{src}: the backbone weights do not fit the backbone of its own config' in err
    assert 'blocks.1.norm1.weight' in err  # the missing second block
    assert list(tmp_path.glob('out*')) == []


def test_publish_refuses_a_checkpoint_without_backbone_weights(tmp_path, capsys):
    src = tmp_path / 'head_only.pth'
    torch.save({'state_dict': {'cls_head.fc.weight': torch.zeros(3, 4)}, 'meta': {}}, src)
    assert publish_model.main([str(src), str(tmp_path / 'out')]) == 1
    err = capsys.readouterr().err
    assert f"{src} has no weights under 'backbone.'" in err and "['cls_head.']" in err
    assert list(tmp_path.glob('out*')) == []
