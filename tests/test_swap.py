"""The GFP encoder as a drop-in backbone of MMAction2's own ST-GCN recipe."""
import os.path as osp

import mmaction
import torch
from mmengine.config import Config

from gfp_mmaction.models.backbones.skeleton_transformer import SkeletonTransformer

from protocol_helpers import (REPO, load_tool, logged_metrics, make_gfp_checkpoint,
                              tiny_options)

SWAP = 'configs/swap/stgcn_to_gfp_ntu60_xsub.py'
STGCN = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'skeleton', 'stgcn',
                 'stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py')


def plain(value):
    """A config as plain data, without the ``_scope_`` keys ``mmaction::`` inheritance adds."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def test_swap_changes_only_the_backbone():
    swap = plain(Config.fromfile(str(REPO / SWAP)).to_dict())
    stgcn = plain(Config.fromfile(STGCN).to_dict())
    assert set(swap) - set(stgcn) == {'custom_imports', 'pretrained'}
    assert set(stgcn) <= set(swap)
    assert {k for k in stgcn if swap[k] != stgcn[k]} == {'model'}
    assert {k for k in stgcn['model'] if swap['model'][k] != stgcn['model'][k]} == {'backbone'}
    assert swap['model']['backbone']['type'] == 'SkeletonTransformer'
    assert swap['model']['backbone']['embed_dims'] == stgcn['model']['cls_head']['in_channels']


def test_encoder_gives_the_gcn_layout_for_other_clip_lengths(tmp_path):
    """A 120-frame encoder runs 100-frame clips (its table resized at run time); a
    100-frame encoder loads a 120-frame pre-training checkpoint (the table resized at
    load) and then computes the same features."""
    encoder = SkeletonTransformer(embed_dims=32, depth=1, num_heads=2, num_frames=120)
    clips = torch.randn(3, 2, 100, 25, 3)
    out = encoder(clips)
    assert out.shape == (3, 2, 32, 25, 25)  # (N, M, C, T' = 100 / 4, V)
    checkpoint = tmp_path / 'enc.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in encoder.state_dict().items()}},
               checkpoint)
    short = SkeletonTransformer(embed_dims=32, depth=1, num_heads=2, num_frames=100,
                                init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint),
                                              prefix='backbone.'))
    short.init_weights()
    assert short.pos_embed.temporal.shape == (1, 25, 1, 32)
    assert torch.allclose(short(clips), out, atol=1e-5)


def test_swap_config_trains_and_tests_through_mmaction2s_recipe(synthetic_ann_file, tmp_path):
    checkpoint = make_gfp_checkpoint(tmp_path / 'gfp_tiny.pth')
    options = tiny_options(SWAP, synthetic_ann_file, checkpoint)
    options += ['test_dataloader.dataset.indices=2']  # 10 clips per sample at test time
    load_tool('train').main([SWAP, '--work-dir', str(tmp_path / 'train'),
                             '--cfg-options', *options])
    records = logged_metrics(tmp_path / 'train')
    assert any('loss' in r for r in records) and any('acc/top1' in r for r in records)
    load_tool('test').main([SWAP, str(tmp_path / 'train' / 'epoch_1.pth'), '--work-dir',
                            str(tmp_path / 'test'), '--cfg-options', *options])
    assert any('acc/top1' in r for r in logged_metrics(tmp_path / 'test'))
