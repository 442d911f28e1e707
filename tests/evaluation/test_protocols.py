"""The downstream protocol configs, end to end on the embedded dataset.

Every linear / fine-tune / semi-supervised / transfer config trains (with validation)
through ``tools/train.py`` and its checkpoint evaluates through ``tools/test.py``; every
retrieval config evaluates through ``tools/test.py``. The real configs run, shrunk with
``--cfg-options`` (encoder 32 wide and 1 block deep, 8 clips, one epoch), from a tiny
GFP pre-training checkpoint.
"""
import pickle
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from gfp_mmaction.datasets.semi_supervised import read_subset, stratified_subset

from protocol_helpers import (
    REPO,
    load_tool,
    logged_metrics,
    make_gfp_checkpoint,
    tiny_options,
    write_all_splits,
)

CONFIGS = REPO / 'configs' / 'gfp'
DATASETS = ('ntu60_xsub', 'ntu60_xview', 'ntu120_xsub', 'ntu120_xset')
TRAINED = sorted(p.name for p in CONFIGS.glob('*.py')
                 if re.match(r'(linear|finetune|semi1|semi10|transfer)_', p.name)
                 and 'synthetic' not in p.name
                 and not p.name.endswith('_2d.py'))  # 2D data: tests/datasets/test_2d_layouts.py
RETRIEVAL = sorted(p.name for p in CONFIGS.glob('retrieval_*.py'))
# tools/test.py is run for one config of each trained protocol (the others differ from it
# only in data or checkpoint paths, which training has exercised).
TESTED = ('linear_ntu60_xsub.py', 'finetune_ntu120_xset.py', 'semi1_ntu60_xview.py',
          'transfer_ntu60_to_pku2.py')


@pytest.fixture(scope='module')
def ann_file(synthetic_ann_file, tmp_path_factory) -> Path:
    return write_all_splits(synthetic_ann_file,
                            tmp_path_factory.mktemp('protocols') / 'all_splits.pkl')


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory) -> Path:
    return make_gfp_checkpoint(tmp_path_factory.mktemp('pretrained') / 'gfp_tiny.pth')


@pytest.fixture(scope='module')
def tools():
    return load_tool('train'), load_tool('test')


def encoder_state(checkpoint: Path) -> dict:
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    return {k: v for k, v in state.items() if k.startswith('backbone.')}


def test_every_protocol_has_its_configs():
    names = {p.name for p in CONFIGS.glob('*.py')}
    expected = {f'{protocol}_{dataset}.py' for dataset in DATASETS
                for protocol in ('linear', 'finetune', 'semi1', 'semi10', 'retrieval')}
    expected |= {f'{protocol}_{pku}_xsub.py' for protocol in ('linear', 'finetune')
                 for pku in ('pku1', 'pku2')}
    expected |= {f'transfer_{source}_to_pku2.py' for source in ('ntu60', 'ntu120', 'pku1')}
    assert expected <= names, sorted(expected - names)
    assert (REPO / 'configs/swap/stgcn_to_gfp_ntu60_xsub.py').is_file()


@pytest.mark.parametrize('config', TRAINED)
def test_config_trains_and_validates(config, ann_file, pretrained, tools, tmp_path):
    train, test = tools
    path = f'configs/gfp/{config}'
    options = tiny_options(path, ann_file, pretrained)
    if config.startswith('semi'):  # train on the whole labelled subset
        options.append('train_dataloader.dataset.indices=None')
    train.main([path, '--work-dir', str(tmp_path / 'train'), '--cfg-options', *options])
    records = logged_metrics(tmp_path / 'train')
    assert any('loss' in r for r in records), 'no training iteration was logged'
    assert any('acc/top1' in r for r in records), 'no validation was logged'

    checkpoint = tmp_path / 'train' / 'epoch_1.pth'
    trained, start = encoder_state(checkpoint), encoder_state(pretrained)
    assert trained.keys() == start.keys()
    if config.startswith('linear_'):  # frozen: bit for bit the pre-trained encoder
        assert all(torch.equal(trained[k], start[k]) for k in start)
    else:  # loaded from the checkpoint, then moved by a warm-up-sized step
        assert any(not torch.equal(trained[k], start[k]) for k in start)
        assert all(torch.allclose(trained[k], start[k], atol=1e-4) for k in start)
    if config.startswith('semi'):  # the drawn subset is recorded in the work dir
        dataset = Config.fromfile(str(REPO / path)).train_dataloader.dataset
        with open(ann_file, 'rb') as f:
            data = pickle.load(f)
        names = set(data['split'][dataset.split])
        annos = [a for a in data['annotations'] if a['frame_dir'] in names]
        expected = stratified_subset([a['frame_dir'] for a in annos],
                                     [a['label'] for a in annos],
                                     dataset.labelled_fraction, dataset.subset_seed)
        assert read_subset(tmp_path / 'train' / 'labelled_subset.txt') == expected

    if config in TESTED:
        test.main([path, str(checkpoint), '--work-dir', str(tmp_path / 'test'),
                   '--cfg-options', *options])
        assert any('acc/top1' in r for r in logged_metrics(tmp_path / 'test'))


@pytest.mark.parametrize('config', RETRIEVAL)
def test_retrieval_config_tests(config, ann_file, pretrained, tools, tmp_path):
    _, test = tools
    path = f'configs/gfp/{config}'
    test.main([path, str(pretrained), '--work-dir', str(tmp_path),
               '--cfg-options', *tiny_options(path, ann_file)])
    scores = [r['retrieval/top1'] for r in logged_metrics(tmp_path) if 'retrieval/top1' in r]
    assert len(scores) == 1 and 0.0 <= scores[0] <= 1.0


def test_linear_probe_training_leaves_the_encoder_untouched(ann_file, pretrained, tools,
                                                            tmp_path):
    """Two SGD steps through tools/train.py (with momentum and, beyond MAMP's recipe,
    weight decay): every encoder tensor (parameters and buffers) ends bit for bit as
    pre-trained, the optimizer only ever held state for the head, and the head's
    BatchNorm statistics did move."""
    train, _ = tools
    path = 'configs/gfp/linear_ntu60_xsub.py'
    options = tiny_options(path, ann_file, pretrained, batch_size=4)
    options.append('optim_wrapper.optimizer.weight_decay=0.1')
    train.main([path, '--work-dir', str(tmp_path), '--cfg-options', *options])
    checkpoint = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu', weights_only=False)
    state = checkpoint['state_dict']
    start = encoder_state(pretrained)
    assert start and all(torch.equal(state[k], start[k]) for k in start)
    assert int(state['cls_head.norm.num_batches_tracked']) == 2  # 8 clips, batch 4
    assert state['cls_head.norm.running_mean'].abs().sum() > 0
    # Only tensors that received a gradient get momentum: the probe's weight and bias.
    momentum = [s for s in checkpoint['optimizer']['state'].values() if s.get('momentum_buffer')
                is not None]
    assert len(momentum) == 2


def test_frozen_encoder_stays_in_eval_mode_and_out_of_the_update(ann_file, pretrained):
    """The model of the linear config in ``train()`` mode: the encoder (dropout / drop
    path off) stays in eval mode, and optimizer steps with weight decay leave it as is."""
    from mmaction.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO / 'configs/gfp/linear_ntu60_xsub.py'))
    cfg.merge_from_dict({'model.backbone.embed_dims': 32, 'model.backbone.depth': 1,
                         'model.backbone.num_heads': 2, 'model.backbone.drop_path_rate': 0.5,
                         'model.cls_head.in_channels': 32,
                         'model.backbone.init_cfg.checkpoint': str(pretrained)})
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    assert not any(m.training for m in model.backbone.modules())
    assert model.cls_head.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    optim_wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=0.5)))
    from mmaction.structures import ActionDataSample
    samples = [ActionDataSample().set_gt_label(i % 3) for i in range(4)]
    inputs = [torch.randn(1, 2, 120, 25, 3) for _ in range(4)]  # per sample: clips, M, T, V, C
    for _ in range(3):
        model.train_step(dict(inputs=inputs, data_samples=samples), optim_wrapper)
    assert all(torch.equal(before[k], v) for k, v in model.backbone.state_dict().items())


@pytest.mark.parametrize('case', ['no_prefix', 'missing', 'deeper', 'wider', 'no_file'])
def test_pretrained_checkpoint_that_does_not_fit_the_encoder_is_an_error(case, pretrained,
                                                                         tmp_path):
    from gfp_mmaction.models.backbones.skeleton_transformer import SkeletonTransformer
    state = torch.load(pretrained, map_location='cpu', weights_only=False)['state_dict']
    width, path = 32, tmp_path / f'{case}.pth'
    if case == 'no_prefix':
        state = {k.replace('backbone.', 'encoder.'): v for k, v in state.items()}
        expected = ["holds no weights under the prefix", "'backbone.'", 'encoder.']
    elif case == 'missing':
        state.pop('backbone.norm.weight')
        expected = ['1 of its', "'norm.weight'"]
    elif case == 'deeper':
        state = torch.load(make_gfp_checkpoint(tmp_path / 'deep.pth', depth=2),
                           weights_only=False)['state_dict']
        expected = ['blocks.1.']
    elif case == 'wider':
        width = 64
        expected = ['differ in shape', "'patch_embed.weight', (32, 12), (64, 12)"]
    if case == 'no_file':
        expected = ['does not exist']
    else:
        torch.save({'state_dict': state, 'meta': {}}, path)
    encoder = SkeletonTransformer(embed_dims=width, depth=1, num_heads=2, init_cfg=dict(
        type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        encoder.init_weights()
    message = str(error.value)
    assert str(path) in message
    for part in expected:
        assert part in message, message
