"""Every shipped config (configs/gfp/*.py, configs/mamp/*.py) against the method spec.

The spec's values (/work/shared/GFP_METHOD.md, sections 1-7, and MAMP's own scripts for
the published baseline) are written once, in the tables below; each config is loaded with
MMEngine's ``Config.fromfile`` (inheritance resolved) and, for the model and the batched
data preprocessor, built, so that a default taken from the code counts too. A config that
no table covers fails ``test_every_shipped_config_is_pinned``.

The demo-scale configs (``*_synthetic_xsub.py``) shrink the network, data and schedule
on purpose; they are held to the method's values (losses, masking, augmentation,
optimiser kind and settings), not to its scale.
"""
import math
import re
from pathlib import Path

import pytest
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from gfp_mmaction.utils import model_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p.relative_to(REPO).as_posix() for d in ('configs/gfp', 'configs/mamp')
                 for p in (REPO / d).glob('*.py'))

# ------------------------------------------------------------------ the spec, once
# 1. Input and tokens; 3. encoder (same as MAMP)
TOKENS = dict(in_channels=3, num_frames=120, num_joints=25, patch_len=4, num_person=2)
ENCODER = dict(embed_dims=256, depth=8, num_heads=8, mlp_hidden=1024, qkv_bias=True)
# 2. Masking: 75 of 750 visible (MAMP's own code: int(750 * 0.1) = 74)
MASKING = dict(masking='motion_aware', mask_ratio=0.9, visible=75, visible_published=74)
# 4. GFP: patch rows per token at the three local levels (-> 150 / 75 / 25 / 1 targets),
# TGN MLPs (3 layers, hidden 512 local / 2048 global) on frame-level motion,
# L = 5 L_pred + sum_k (5 L_cov + 1 L_var), eps 1e-4, equal level weights, joint training.
GFP = dict(pool_kernels=(5, 10, 30), targets=(150, 75, 25, 1), tgn_layers=3,
           tgn_local_hidden=512, tgn_global_hidden=2048, motion='frame', pred_weight=5.0,
           cov_weight=5.0, var_weight=1.0, eps=1e-4, level_weights=None,
           stop_grad_targets=False, gather_distributed=True)
# 4.1 [decided] choices, defaults documented in configs/_base_/models/gfp.py
GFP_DECIDED = dict(depths=(2, 1, 1), global_token='mean_mlp', target_dims=256,
                   global_input='flatten', tgn_norm='LN', tgn_pooling='pool_mlp',
                   tgn_source='motion')
# 5. Data (MAMP's preprocessing)
DATA = dict(clip_len=120, p_interval=(0.5, 1.0), min_frames=64, max_angle=0.3,
            centre_joint=1, test_p_interval=(0.95, ))
# 6. Pre-training recipe
PRETRAIN = dict(max_epochs=400, batch_size=128, optimizer='AdamW', betas=(0.9, 0.95),
                weight_decay=0.05, lr=1e-3, warmup_epochs=20, min_lr=5e-4)
# 7. Downstream protocols (MAMP's code)
LINEAR = dict(optimizer='SGD', lr=0.1, momentum=0.9, weight_decay=0.0, batch_size=256,
              max_epochs=100, min_lr=0.0)
FINETUNE = dict(optimizer='AdamW', weight_decay=0.05, layer_decay=0.8, lr=3e-4, min_lr=1e-5,
                warmup_epochs=5, max_epochs=100, batch_size=48, drop_path=0.3,
                head_dropout=0.3, label_smoothing=0.1, hidden=2048)
SEMI = {'semi1': 0.01, 'semi10': 0.1}
RETRIEVAL_TOPK = (1, )
# MAMP (the baseline): a 5-block decoder predicting 12 motion values per token,
# per-patch normalised targets. As published (MAMP's scripts): 3 decoder blocks for
# NTU-60, 5 for NTU-120 and PKU-MMD; padded persons counted; 74 visible tokens.
MAMP = dict(decoder_depth=5, out_dims=12, norm_target=True)

# Per dataset: the annotation file, splits, classes, padding of a single actor, tau, and
# the decoder depth of MAMP's published scripts.
DATASETS = {
    'ntu60_xsub': dict(ann='ntu60_3d.pkl', train='xsub_train', val='xsub_val', classes=60,
                       pad='zero', tau=0.80, mamp_depth=3),
    'ntu60_xview': dict(ann='ntu60_3d.pkl', train='xview_train', val='xview_val', classes=60,
                        pad='zero', tau=0.80, mamp_depth=3),
    'ntu120_xsub': dict(ann='ntu120_3d.pkl', train='xsub_train', val='xsub_val', classes=120,
                        pad='loop', tau=0.75, mamp_depth=5),
    'ntu120_xset': dict(ann='ntu120_3d.pkl', train='xset_train', val='xset_val', classes=120,
                        pad='loop', tau=0.75, mamp_depth=5),
    'pku1_xsub': dict(ann='pku_v1_3d.pkl', train='xsub_train', val='xsub_val', classes=51,
                      pad='zero', tau=0.80, mamp_depth=5),
    'pku2_xsub': dict(ann='pku_v2_3d.pkl', train='xsub_train', val='xsub_val', classes=51,
                      pad='zero', tau=0.80, mamp_depth=5),
}
# Beyond the spec: NTU-60 from 2D keypoints (MMAction2's ntu60_2d.pkl, COCO-17: 17 joints,
# x, y + score, centred on the left hip, in-plane rotation); the method's values otherwise.
DATASETS['ntu60_xsub_2d'] = dict(ann='ntu60_2d.pkl', train='xsub_train', val='xsub_val',
                                 classes=60, pad='zero', tau=0.80, joints=17, centre=11,
                                 rotation='2d')
SYNTHETIC = dict(ann='synthetic_ntu.pkl', train='xsub_train', val='xsub_val', classes=10,
                 pad='zero', tau=0.80)
# the harder preset of the ablations (gfp_mmaction/testing/synthetic/temporal.py)
SYNTHETIC_TEMPORAL = dict(SYNTHETIC, ann='synthetic_temporal.pkl', classes=12)
DEMO = {'synthetic_xsub': SYNTHETIC, 'synthetic_temporal_xsub': SYNTHETIC_TEMPORAL}
DEMO_NAMES = '|'.join(DEMO)
TRANSFER_SOURCES = {'ntu60': 'ntu60_xsub', 'ntu120': 'ntu120_xsub', 'pku1': 'pku1_xsub'}

DS = '|'.join(sorted(DATASETS, key=len, reverse=True))
KINDS = [
    ('gfp', rf'configs/gfp/gfp_({DS})\.py'),
    ('gfp_demo', rf'configs/gfp/gfp_({DEMO_NAMES})\.py'),
    ('mamp', rf'configs/mamp/mamp_({DS})\.py'),
    ('mamp_demo', rf'configs/mamp/mamp_({DEMO_NAMES})\.py'),
    ('mamp_published', rf'configs/mamp/mamp_published_({DS})\.py'),
    ('linear', rf'configs/gfp/linear_({DS}|{DEMO_NAMES})\.py'),
    ('finetune', rf'configs/gfp/finetune_({DS}|synthetic_xsub)\.py'),
    ('semi1', rf'configs/gfp/semi1_({DS})\.py'),
    ('semi10', rf'configs/gfp/semi10_({DS})\.py'),
    ('retrieval', rf'configs/gfp/retrieval_({DS}|synthetic_xsub)\.py'),
    ('transfer', r'configs/gfp/transfer_(ntu60|ntu120|pku1)_to_pku2\.py'),
]


def kind_of(config: str):
    for kind, pattern in KINDS:
        match = re.fullmatch(pattern, config)
        if match:
            return kind, match.group(1)
    return None, None


def dataset_of(name: str) -> dict:
    ds = DEMO[name] if name in DEMO else DATASETS[name]
    # the spec's skeleton (NTU's 25 joints, centred on joint 1, 3D rotation) by default
    return dict(dict(joints=TOKENS['num_joints'], centre=DATA['centre_joint'], rotation='3d'),
                **ds)


def load(config: str) -> Config:
    init_default_scope('mmaction')  # RecognizerGCN's data preprocessor is MMAction2's
    return Config.fromfile(str(REPO / config))


def configs_of(*kinds):
    return [c for c in CONFIGS if kind_of(c)[0] in kinds]


# ------------------------------------------------------------------ checks
def check_encoder(backbone: nn.Module, demo: bool = False, joints: int = TOKENS['num_joints']):
    assert type(backbone).__name__ == 'SkeletonTransformer'
    assert (backbone.in_channels, backbone.num_joints, backbone.patch_len,
            backbone.num_rows) == (TOKENS['in_channels'], joints, TOKENS['patch_len'],
                                   TOKENS['num_frames'] // TOKENS['patch_len'])
    block = backbone.blocks[0]
    assert (block.attn.qkv.bias is not None) == ENCODER['qkv_bias']
    assert isinstance(block.mlp[1], nn.GELU) and isinstance(backbone.norm, nn.LayerNorm)
    if demo:
        return
    assert backbone.embed_dims == ENCODER['embed_dims']
    assert len(backbone.blocks) == ENCODER['depth']
    assert block.attn.num_heads == ENCODER['num_heads']
    assert block.mlp[0].out_features == ENCODER['mlp_hidden']


def check_train_augmentation(pre, ds: dict, published: bool = False):
    assert type(pre).__name__ == 'SkeletonPretrainPreprocessor'
    assert (pre.clip_len, pre.p_interval, pre.min_frames, pre.max_angle, pre.centre_joint) == \
        (DATA['clip_len'], DATA['p_interval'], DATA['min_frames'], DATA['max_angle'],
         ds['centre'])
    assert getattr(pre, 'rotation', '3d') == ds['rotation']
    assert pre.person_pad == ds['pad']
    assert (pre.masking, pre.mask_ratio, pre.patch_len) == \
        (MASKING['masking'], MASKING['mask_ratio'], TOKENS['patch_len'])
    assert pre.tau == ds['tau']
    tokens = TOKENS['num_frames'] // TOKENS['patch_len'] * ds['joints']
    expected = MASKING['visible_published'] if published else MASKING['visible']
    # 75 of 750 (74 with MAMP's int()); 51 of the 2D variant's 510
    assert pre.num_visible(tokens) == expected * ds['joints'] // TOKENS['num_joints']


def check_pretrain_recipe(cfg: Config, demo: bool = False):
    wrapper = cfg.optim_wrapper
    assert wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'  # no AMP by default
    assert wrapper.get('clip_grad') is None  # no gradient clipping
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, tuple(opt.betas), opt.weight_decay) == \
        (PRETRAIN['optimizer'], PRETRAIN['lr'], PRETRAIN['betas'], PRETRAIN['weight_decay'])
    rules = wrapper.paramwise_cfg
    assert (rules.bias_decay_mult, rules.norm_decay_mult, rules.flat_decay_mult) == (0, 0, 0)
    warmup, cosine = cfg.param_scheduler
    epochs = cfg.train_cfg.max_epochs
    warm = warmup.end
    assert warmup.type == 'LinearLR' and warmup.begin == 0 and warmup.start_factor <= 1e-3
    assert cosine.type == 'CosineAnnealingLR' and (cosine.begin, cosine.end) == (warm, epochs)
    assert cosine.T_max == epochs - warm and cosine.eta_min == PRETRAIN['min_lr']
    assert all(s.by_epoch and s.convert_to_iter_based for s in (warmup, cosine))
    loader = cfg.train_dataloader
    assert loader.dataset.num_person == TOKENS['num_person'] and loader.drop_last
    # batch_size is per process; the lr is for a total of auto_scale_lr.base_batch_size
    assert cfg.auto_scale_lr.base_batch_size == loader.batch_size
    if not demo:
        assert (epochs, warm) == (PRETRAIN['max_epochs'], PRETRAIN['warmup_epochs'])
        assert loader.batch_size == PRETRAIN['batch_size']


def check_pretrain_data(cfg: Config, ds: dict):
    dataset = cfg.train_dataloader.dataset
    assert dataset.ann_file == f'data/skeleton/{ds["ann"]}' and dataset.split == ds['train']


@pytest.mark.parametrize('config', configs_of('gfp', 'gfp_demo'))
def test_gfp_pretraining_configs(config):
    kind, name = kind_of(config)
    demo = kind == 'gfp_demo'
    ds = dataset_of(name)
    cfg = load(config)
    model = MODELS.build(model_config(cfg))
    check_encoder(model.backbone, demo, ds['joints'])
    check_train_augmentation(model.data_preprocessor, ds)
    check_pretrain_recipe(cfg, demo)
    check_pretrain_data(cfg, ds)
    neck, tgn, head = model.neck, model.target_generator, model.head
    assert neck.pool_kernels == tgn.pool_kernels == GFP['pool_kernels']
    rows = TOKENS['num_frames'] // TOKENS['patch_len']
    assert tuple(rows // k * TOKENS['num_joints'] for k in GFP['pool_kernels']) + (1, ) == \
        GFP['targets']
    assert neck.grid.num_joints == ds['joints']
    assert tgn.motion == GFP['motion']
    for mlp, hidden in zip([*tgn.local_mlps, tgn.global_mlp],
                           [GFP['tgn_local_hidden']] * 3 + [GFP['tgn_global_hidden']]):
        linears = [m for m in mlp if isinstance(m, nn.Linear)]
        assert len(linears) == GFP['tgn_layers']
        if not demo:
            assert all(lin.out_features == hidden for lin in linears[:-1])
    assert head.prediction_loss.loss_weight == GFP['pred_weight']
    assert head.prediction_loss.level_weights == GFP['level_weights']
    reg = head.regularizer
    assert (reg.cov_weight, reg.var_weight, reg.eps, reg.gather_distributed) == \
        (GFP['cov_weight'], GFP['var_weight'], GFP['eps'], GFP['gather_distributed'])
    assert head.stop_grad_targets == GFP['stop_grad_targets']
    assert tgn.global_input == GFP_DECIDED['global_input']
    assert (tgn.norm, tgn.pooling, tgn.source) == (
        GFP_DECIDED['tgn_norm'], GFP_DECIDED['tgn_pooling'], GFP_DECIDED['tgn_source'])
    assert neck.global_token == GFP_DECIDED['global_token']
    if not demo:
        assert tuple(len(stage) for stage in neck.stages) == GFP_DECIDED['depths']
        assert tgn.target_dims == GFP_DECIDED['target_dims']


@pytest.mark.parametrize('config', configs_of('mamp', 'mamp_published'))
def test_mamp_pretraining_configs(config):
    kind, name = kind_of(config)
    published = kind == 'mamp_published'
    ds = dataset_of(name)
    cfg = load(config)
    model = MODELS.build(model_config(cfg))
    check_encoder(model.backbone)
    check_train_augmentation(model.data_preprocessor, ds, published)
    check_pretrain_recipe(cfg)
    check_pretrain_data(cfg, ds)
    depth = ds['mamp_depth'] if published else MAMP['decoder_depth']
    assert len(model.neck.blocks) == depth
    assert model.neck.predictor.out_features == MAMP['out_dims']
    assert model.head.norm_target == MAMP['norm_target']
    assert model.head.count_padded_persons == published
    decay_mask_token = cfg.optim_wrapper.paramwise_cfg.get('custom_keys', {}).get('mask_token')
    assert (decay_mask_token == dict(decay_mult=1.0)) == published
    # each says which it is and names the other
    text = (REPO / config).read_text()
    if published:
        assert 'AS PUBLISHED' in text and f'configs/mamp/mamp_{name}.py' in text
    else:
        assert 'LIKE-FOR-LIKE' in text and f'configs/mamp/mamp_published_{name}.py' in text


@pytest.mark.parametrize('config', configs_of('mamp_demo'))
def test_demo_mamp_baseline_differs_from_demo_gfp_only_in_the_model(config):
    """The ablations' MAMP baseline: GFP's demo encoder, data path, masking and recipe;
    MAMP's decoder (3 blocks) and target (normalised motion, padded persons left out)."""
    _, name = kind_of(config)
    cfg, gfp = load(config), load(f'configs/gfp/gfp_{name}.py')
    for key in ('data_preprocessor', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'train_dataloader', 'auto_scale_lr', 'randomness'):
        assert cfg.get(key) == gfp.get(key), key
    model, gfp_model = MODELS.build(model_config(cfg)), MODELS.build(model_config(gfp))
    assert type(model).__name__ == 'MAMP'
    assert repr(model.backbone) == repr(gfp_model.backbone)
    check_train_augmentation(model.data_preprocessor, dataset_of(name))
    check_pretrain_recipe(cfg, demo=True)
    check_pretrain_data(cfg, dataset_of(name))
    assert len(model.neck.blocks) == 3 and model.neck.predictor.out_features == MAMP['out_dims']
    assert (model.head.norm_target, model.head.count_padded_persons) == (MAMP['norm_target'],
                                                                         False)


def check_eval_pipelines(cfg: Config, ds: dict, train: bool = True):
    pad = dict(type='FormatGCNInput', num_person=TOKENS['num_person'], mode=ds['pad'])
    test = [dict(type='CentreOnFirstFrame', joint=ds['centre']),
            dict(type='ValidCropResize', clip_len=DATA['clip_len'],
                 p_interval=DATA['test_p_interval']), pad]
    if train:
        rotation = 'RandomRotation2D' if ds['rotation'] == '2d' else 'RandomRotation3D'
        expected = [dict(type='CentreOnFirstFrame', joint=ds['centre']),
                    dict(type='ValidCropResize', clip_len=DATA['clip_len'],
                         p_interval=DATA['p_interval'], min_frames=DATA['min_frames']),
                    dict(type=rotation, max_angle=DATA['max_angle']), pad]
        assert [dict(t) for t in cfg.train_dataloader.dataset.pipeline[:-1]] == expected
        assert [dict(t) for t in cfg.val_dataloader.dataset.pipeline[:-1]] == test
    else:
        assert [dict(t) for t in cfg.test_dataloader.dataset.pipeline[:-1]] == test


def check_eval_data(cfg: Config, ds: dict):
    ann = f'data/skeleton/{ds["ann"]}'
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert (train.ann_file, train.split) == (ann, ds['train'])
    assert (val.ann_file, val.split) == (ann, ds['val'])


def check_pretrained_from(cfg: Config, source: str):
    init = cfg.model.backbone.init_cfg
    assert (init.type, init.prefix) == ('Pretrained', 'backbone.')
    if source in DEMO:  # the demo's (the ablations') pre-training run
        assert init.checkpoint.startswith(f'work_dirs/gfp_{source}/')
    else:  # the same dataset's (transfer: the source's) 400-epoch GFP pre-training
        assert init.checkpoint == \
            f'work_dirs/gfp_{source}/epoch_{PRETRAIN["max_epochs"]}.pth'


@pytest.mark.parametrize('config', configs_of('linear'))
def test_linear_probe_configs(config):
    _, name = kind_of(config)
    demo, ds = name in DEMO, dataset_of(name)
    cfg = load(config)
    check_eval_pipelines(cfg, ds)
    check_eval_data(cfg, ds)
    check_pretrained_from(cfg, name)
    assert cfg.model.backbone.frozen is True
    model = MODELS.build(cfg.model)
    check_encoder(model.backbone, demo, ds['joints'])
    head = cfg.model.cls_head
    assert head.type == 'LinearProbeHead' and head.num_classes == ds['classes']
    built = model.cls_head
    assert isinstance(built.norm, nn.BatchNorm1d) and not built.norm.affine
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == \
        (LINEAR['optimizer'], LINEAR['lr'], LINEAR['momentum'], LINEAR['weight_decay'])
    (cosine, ) = cfg.param_scheduler
    epochs = cfg.train_cfg.max_epochs
    assert cosine.type == 'CosineAnnealingLR' and cosine.T_max == epochs
    assert cosine.eta_min == LINEAR['min_lr'] and cosine.by_epoch
    assert cfg.auto_scale_lr.base_batch_size == cfg.train_dataloader.batch_size
    if not demo:
        assert epochs == LINEAR['max_epochs']
        assert cfg.train_dataloader.batch_size == LINEAR['batch_size']


def check_finetune(cfg: Config, ds: dict, source: str, demo: bool = False):
    check_eval_pipelines(cfg, ds)
    check_eval_data(cfg, ds)
    check_pretrained_from(cfg, source)
    backbone = cfg.model.backbone
    assert not backbone.get('frozen', False)
    assert backbone.drop_path_rate == FINETUNE['drop_path']
    model = MODELS.build(cfg.model)
    check_encoder(model.backbone, demo)
    head = cfg.model.cls_head
    assert head.type == 'FinetuneHead' and head.num_classes == ds['classes']
    assert (head.dropout, head.label_smooth_eps) == \
        (FINETUNE['head_dropout'], FINETUNE['label_smoothing'])
    assert model.cls_head.fc1.in_features == TOKENS['num_joints'] * model.backbone.embed_dims
    wrapper = cfg.optim_wrapper
    assert wrapper.constructor == 'LayerDecayOptimWrapperConstructor'
    assert wrapper.paramwise_cfg.layer_decay_rate == FINETUNE['layer_decay']
    assert wrapper.get('clip_grad') is None
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == \
        (FINETUNE['optimizer'], FINETUNE['lr'], FINETUNE['weight_decay'])
    warmup, cosine = cfg.param_scheduler
    epochs = cfg.train_cfg.max_epochs
    assert warmup.type == 'LinearLR' and warmup.begin == 0
    assert cosine.type == 'CosineAnnealingLR' and (cosine.begin, cosine.end) == (warmup.end, epochs)
    assert cosine.T_max == epochs - warmup.end
    assert math.isclose(cosine.eta_min_ratio * opt.lr, FINETUNE['min_lr'])
    assert cfg.auto_scale_lr.base_batch_size == cfg.train_dataloader.batch_size
    if not demo:
        assert model.cls_head.fc1.out_features == FINETUNE['hidden']
        assert (epochs, warmup.end) == (FINETUNE['max_epochs'], FINETUNE['warmup_epochs'])
        assert cfg.train_dataloader.batch_size == FINETUNE['batch_size']


@pytest.mark.parametrize('config', configs_of('finetune'))
def test_finetune_configs(config):
    _, name = kind_of(config)
    check_finetune(load(config), dataset_of(name), name, demo=name in DEMO)


@pytest.mark.parametrize('config', configs_of('semi1', 'semi10'))
def test_semi_supervised_configs(config):
    kind, name = kind_of(config)
    cfg = load(config)
    check_finetune(cfg, dataset_of(name), name)
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == 'SemiSupervisedPoseDataset'
    assert dataset.labelled_fraction == SEMI[kind]


@pytest.mark.parametrize('config', configs_of('transfer'))
def test_transfer_configs(config):
    _, source = kind_of(config)
    check_finetune(load(config), dataset_of('pku2_xsub'), TRANSFER_SOURCES[source])


@pytest.mark.parametrize('config', configs_of('retrieval'))
def test_retrieval_configs(config):
    _, name = kind_of(config)
    demo, ds = name in DEMO, dataset_of(name)
    cfg = load(config)
    assert cfg.model.backbone.frozen is True and cfg.model.cls_head.type == 'PooledFeatureHead'
    check_encoder(MODELS.build(cfg.model).backbone, demo)
    check_eval_pipelines(cfg, ds, train=False)
    dataset = cfg.test_dataloader.dataset
    assert dataset.type == 'RetrievalPoseDataset'
    assert (dataset.ann_file, dataset.gallery_split, dataset.query_split) == \
        (f'data/skeleton/{ds["ann"]}', ds['train'], ds['val'])
    (metric, ) = cfg.test_evaluator
    assert metric.type == 'NNRetrievalMetric' and tuple(metric.topk) == RETRIEVAL_TOPK


def test_every_shipped_config_is_pinned():
    unpinned = [c for c in CONFIGS if kind_of(c)[0] is None]
    assert not unpinned, f'configs without pins in tests/package/test_config_pins.py: {unpinned}'
    kinds = {kind_of(c)[0] for c in CONFIGS}
    assert kinds == {kind for kind, _ in KINDS}
    # every dataset of the spec has its GFP and both MAMP pre-training configs
    for name in (name for name in DATASETS if not name.endswith('_2d')):
        for config in (f'configs/gfp/gfp_{name}.py', f'configs/mamp/mamp_{name}.py',
                       f'configs/mamp/mamp_published_{name}.py'):
            assert config in CONFIGS, config
