"""The plugin registers its parts, absorbs the stack defects, and its configs build."""
import os
import subprocess
import sys

import pytest
import torch
from mmaction.registry import MODELS, TRANSFORMS
from mmengine.config import Config

REGISTERED_MODELS = ('GFP', 'MAMP', 'SkeletonTransformer', 'HierarchicalDecoder', 'MAMPDecoder',
                     'MotionTargetGenerator', 'GFPHead', 'MAMPHead', 'LinearProbeHead',
                     'MultiLevelMSELoss', 'VarianceCovarianceLoss')
REGISTERED_TRANSFORMS = ('CentreOnFirstFrame', 'ValidCropResize', 'RandomRotation3D',
                         'MotionAwareTokenMasking', 'RandomTokenMasking')


@pytest.mark.parametrize('name', REGISTERED_MODELS)
def test_models_are_registered_in_mmaction(name):
    assert MODELS.get(name) is not None


@pytest.mark.parametrize('name', REGISTERED_TRANSFORMS)
def test_transforms_are_registered_in_mmaction(name):
    assert TRANSFORMS.get(name) is not None


def test_mmaction_models_import_and_build_despite_missing_drn():
    import mmaction.models  # noqa: F401  (fails on the bare mmaction2 1.2.0 wheel)
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmaction'):
            model = MODELS.build(dict(
            type='RecognizerGCN',
            backbone=dict(type='STGCN', graph_cfg=dict(layout='nturgb+d', mode='stgcn_spatial')),
            cls_head=dict(type='GCNHead', num_classes=3, in_channels=256)))
    assert type(model).__name__ == 'RecognizerGCN'


def test_custom_imports_load_the_plugin_in_a_fresh_process(repo_root):
    # custom_imports is honoured by Config.fromfile alone: no import of gfp_mmaction here.
    code = ('from mmengine.config import Config; from mmaction.registry import MODELS;'
            'cfg = Config.fromfile("configs/gfp/gfp_ntu60_xsub.py");'
            'import sys; assert "gfp_mmaction" in sys.modules;'
            'print(type(MODELS.build(cfg.model)).__name__)')
    out = subprocess.run([sys.executable, '-c', code], cwd=repo_root, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('GFP')


def test_import_leaves_out_the_generator_the_benchmark_and_the_plots(repo_root):
    """``import gfp_mmaction`` registers the parts; the synthetic data generator
    (``testing``), the benchmark (``analysis``) and the plotters (``visualization``, with
    matplotlib) load only when asked for."""
    code = ('import sys, gfp_mmaction; print(sorted(m for m in sys.modules '
            'if m.split(".")[:2] in (["gfp_mmaction", "testing"], ["gfp_mmaction", "analysis"],'
            ' ["gfp_mmaction", "visualization"]) or m == "matplotlib"))')
    out = subprocess.run([sys.executable, '-c', code], cwd=repo_root, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'
    code = ('import sys, gfp_mmaction.testing.synthetic; '
            'print("gfp_mmaction.testing" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], cwd=repo_root, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == 'True', out.stderr  # the check sees a loaded module


@pytest.mark.parametrize('config', [
    'configs/gfp/gfp_ntu60_xsub.py', 'configs/gfp/gfp_ntu60_xview.py',
    'configs/gfp/gfp_ntu120_xsub.py', 'configs/gfp/gfp_ntu120_xset.py',
    'configs/gfp/gfp_pku1_xsub.py', 'configs/gfp/gfp_pku2_xsub.py',
    'configs/mamp/mamp_ntu60_xsub.py', 'configs/gfp/gfp_synthetic_xsub.py'
])
def test_pretraining_configs_build(repo_root, config):
    cfg = Config.fromfile(str(repo_root / config))
    model = MODELS.build(cfg.model)
    assert type(model).__name__ in ('GFP', 'MAMP')
    assert cfg.auto_scale_lr.base_batch_size == cfg.train_dataloader.batch_size


def test_paper_recipe_in_the_ntu60_config(repo_root):
    cfg = Config.fromfile(str(repo_root / 'configs/gfp/gfp_ntu60_xsub.py'))
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.betas, optimizer.weight_decay) == \
        ('AdamW', 1e-3, (0.9, 0.95), 0.05)
    assert cfg.train_cfg.max_epochs == 400 and cfg.train_dataloader.batch_size == 128
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end, cosine.eta_min) == (20, 20, 400, 5e-4)
    assert cfg.model.head.prediction_loss.loss_weight == 5.0
    assert (cfg.model.head.regularizer.cov_weight, cfg.model.head.regularizer.var_weight) == \
        (5.0, 1.0)


def test_checkpoint_loader_accepts_mmengine_checkpoints(tmp_path):
    # A checkpoint with the objects MMEngine stores (numpy, HistoryBuffer) in its meta.
    import numpy as np
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import _load_checkpoint
    path = tmp_path / 'ckpt.pth'
    buffer = HistoryBuffer()
    buffer.update(1.5)
    torch.save({'state_dict': {'w': torch.ones(2)},
                'meta': {'seed': np.int64(3), 'buffer': buffer}}, path)
    with pytest.raises(Exception):  # the defect: torch's default refuses it
        torch.load(path)
    checkpoint = _load_checkpoint(str(path), map_location='cpu')
    assert checkpoint['meta']['seed'] == 3
    assert checkpoint['meta']['buffer'].current() == 1.5
    torch.testing.assert_close(checkpoint['state_dict']['w'], torch.ones(2))


def test_distributed_init_without_cuda_uses_gloo(tmp_path):
    # A one-process group through MMEngine's own init_dist, in a fresh process.
    code = ('import gfp_mmaction, torch.distributed as dist;'
            'from mmengine.dist import init_dist;'
            'init_dist("pytorch", backend="nccl");'
            'print(dist.get_backend(), dist.get_world_size())')
    env = dict(os.environ, RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(29400 + os.getpid() % 500), CUDA_VISIBLE_DEVICES='')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env=env, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ['gloo', '1']


def test_train_stops_with_one_clear_message_when_data_is_missing(repo_root, tmp_path):
    out = subprocess.run(
        [sys.executable, str(repo_root / 'tools/train.py'),
         str(repo_root / 'configs/gfp/gfp_ntu60_xsub.py'), '--work-dir', str(tmp_path / 'w')],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert 'Traceback' not in out.stderr
    assert 'data/skeleton/ntu60_3d.pkl' in out.stderr
    assert 'docs/data_preparation.md' in out.stderr


@pytest.mark.parametrize('config', ['configs/gfp/linear_synthetic_xsub.py',
                                    'configs/gfp/finetune_synthetic_xsub.py',
                                    'configs/gfp/retrieval_synthetic_xsub.py'])
def test_embedded_dataset_evaluation_configs_match_the_demo_encoder(repo_root, config):
    # Their encoder must be the demo pre-training's, or its checkpoint would not load.
    from mmengine.registry import DefaultScope
    pretrain = Config.fromfile(str(repo_root / 'configs/gfp/gfp_synthetic_xsub.py'))
    cfg = Config.fromfile(str(repo_root / config))
    for key in ('embed_dims', 'depth', 'num_heads', 'patch_len', 'num_frames'):
        assert cfg.model.backbone[key] == pretrain.model.backbone[key], key
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg.model)
    x = torch.zeros(1, 1, 2, 120, 25, 3)
    with torch.no_grad():
        assert model.extract_feat(x)[0].shape == (1, 2, 64, 30, 25)
