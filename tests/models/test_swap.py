"""The GFP encoder as a drop-in backbone of MMAction2's own ST-GCN recipe."""
import os.path as osp

import mmaction
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from gfp_mmaction.datasets import per_sample_pipeline
from gfp_mmaction.models.backbones.skeleton_transformer import SkeletonTransformer

from protocol_helpers import REPO, load_tool, logged_metrics, make_gfp_checkpoint, tiny_options

SWAP = 'configs/swap/stgcn_to_gfp_ntu60_xsub.py'
SWAP_PREPROCESSING = 'configs/swap/stgcn_to_gfp_ntu60_xsub_gfp_preprocessing.py'
STGCN = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'skeleton', 'stgcn',
                 'stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py')


def plain(value):
    """A config as plain data, without the ``_scope_`` keys ``mmaction::`` inheritance adds."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def test_swap_changes_only_the_backbone_and_the_hook_types():
    swap = plain(Config.fromfile(str(REPO / SWAP)).to_dict())
    stgcn = plain(Config.fromfile(STGCN).to_dict())
    assert set(swap) - set(stgcn) == {'custom_imports', 'pretrained', 'gfp_default_hooks'}
    assert set(stgcn) <= set(swap)
    assert {k for k in stgcn if swap[k] != stgcn[k]} == {'model', 'default_hooks'}
    assert {k for k in stgcn['model'] if swap['model'][k] != stgcn['model'][k]} == {'backbone'}
    assert swap['model']['backbone']['type'] == 'SkeletonTransformer'
    assert swap['model']['backbone']['embed_dims'] == stgcn['model']['cls_head']['in_channels']
    # gfp_runtime.py changes the types of two hooks and adds one; the recipe's
    # arguments (checkpoint every epoch, save_best='auto', log every 100) stay.
    hooks, recipe = swap['default_hooks'], stgcn['default_hooks']
    assert set(hooks) - set(recipe) == {'nonfinite_loss'}
    assert hooks['nonfinite_loss'] == dict(type='NonFiniteLossHook')
    assert {k for k in recipe if hooks[k] != recipe[k]} == {'runtime_info', 'checkpoint'}
    assert hooks['checkpoint'] == dict(recipe['checkpoint'], type='ResumableCheckpointHook')
    assert hooks['checkpoint']['interval'] == 1 and hooks['checkpoint']['save_best'] == 'auto'
    assert hooks['runtime_info'] == dict(type='DeferredRuntimeInfoHook')
    assert hooks['logger'] == recipe['logger'] and recipe['logger']['interval'] == 100


def runner_hooks(config: str, tmp_path) -> set:
    """The hook classes MMEngine's runner registers for ``config`` (nothing runs)."""
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path / 'runner')
    cfg.launcher = 'none'
    return {type(hook).__name__ for hook in Runner.from_cfg(cfg).hooks}


@pytest.mark.parametrize('config', [SWAP, SWAP_PREPROCESSING])
def test_swap_configs_get_our_checkpointing_and_loss_guard(config, tmp_path):
    hooks = runner_hooks(REPO / config, tmp_path)
    assert {'ResumableCheckpointHook', 'NonFiniteLossHook', 'DeferredRuntimeInfoHook'} <= hooks
    assert not {'CheckpointHook', 'RuntimeInfoHook'} & hooks  # replaced, not added


def test_a_users_mmaction2_config_inherits_the_runtime_fragment(tmp_path):
    """What README / docs/protocols.md tell users to write in their own config, outside
    this repository: another MMAction2 recipe (2s-AGCN, bone stream) + gfp_runtime.py."""
    config = tmp_path / 'my_agcn_to_gfp.py'
    config.write_text(
        "_base_ = ['mmaction::skeleton/2s-agcn/"
        "2s-agcn_8xb16-bone-u100-80e_ntu60-xsub-keypoint-3d.py',\n"
        f"          '{REPO / 'configs/_base_/gfp_runtime.py'}']\n"
        'default_hooks = _base_.gfp_default_hooks\n'
        "model = dict(backbone=dict(_delete_=True, type='SkeletonTransformer', num_frames=100,\n"
        '                           embed_dims=256, depth=8, num_heads=8))\n')
    cfg = Config.fromfile(str(config))
    assert cfg.default_hooks.checkpoint.type == 'ResumableCheckpointHook'
    assert cfg.default_hooks.checkpoint.interval == 1  # the recipe's
    hooks = runner_hooks(config, tmp_path)
    assert {'ResumableCheckpointHook', 'NonFiniteLossHook'} <= hooks
    assert 'CheckpointHook' not in hooks


def test_preprocessing_variant_is_the_pretraining_preprocessing():
    """The variant's pipelines are the pre-training config's augmentation, per sample
    (per_sample_pipeline of its data_preprocessor, without the masking), and testing
    crops as MAMP evaluates; everything else is the swap config's."""
    pretrain = Config.fromfile(str(REPO / 'configs/gfp/gfp_ntu60_xsub.py'))
    reference = [t for t in per_sample_pipeline(pretrain.data_preprocessor)
                 if not t['type'].endswith('TokenMasking')]
    reference[-1] = dict(type='PackActionInputs')  # no token mask downstream
    variant = Config.fromfile(str(REPO / SWAP_PREPROCESSING))
    train = variant.train_dataloader.dataset.dataset
    assert train.type == 'SkeletonPoseDataset'
    assert plain(train.pipeline) == plain(reference)
    for loader in ('val_dataloader', 'test_dataloader'):
        dataset = variant[loader].dataset
        assert dataset.type == 'SkeletonPoseDataset' and dataset.test_mode
        assert plain(dataset.pipeline) == [
            dict(type='CentreOnFirstFrame', joint=1),
            dict(type='ValidCropResize', clip_len=120, p_interval=[0.95]),
            dict(type='FormatGCNInput', num_person=2, mode='zero'),
            dict(type='PackActionInputs')]
    assert variant.model.backbone.num_frames == 120 == reference[1]['clip_len']
    swap = plain(Config.fromfile(str(REPO / SWAP)).to_dict())
    changed = {k for k, v in plain(variant.to_dict()).items() if swap.get(k) != v}
    assert changed == {'clip_len', 'train_pipeline', 'val_pipeline', 'test_pipeline', 'model',
                       'train_dataloader', 'val_dataloader', 'test_dataloader'}


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
