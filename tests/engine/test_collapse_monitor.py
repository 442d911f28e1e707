"""The collapse monitor: its statistics by hand, and the hook inside MMEngine's runner."""
import json
import math

import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.runner import Runner

from gfp_mmaction.engine.hooks import CollapseMonitorHook
from gfp_mmaction.evaluation.feature_stats import effective_rank, feature_std
from gfp_mmaction.testing.synthetic import write_synthetic_ntu

# ---------------------------------------------------------------- statistics by hand


def test_feature_std_by_hand():
    # Columns (0, 2) and (0, 4): unbiased variances 2 and 8 -> stds sqrt(2), 2 sqrt(2).
    z = np.array([[0.0, 0.0], [2.0, 4.0]])
    assert feature_std(z) == pytest.approx(1.5 * math.sqrt(2), rel=1e-12)
    # Three rows: column (1, 2, 3) has variance 1, a constant column has 0.
    z = torch.tensor([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    assert feature_std(z) == pytest.approx(0.5, rel=1e-12)
    assert feature_std(np.ones((6, 3))) == 0.0


def test_effective_rank_by_hand():
    # Centred already, orthogonal columns of norms sqrt(2) and sqrt(8): singular values
    # s = (sqrt(2), 2 sqrt(2)), p = (1/3, 2/3), exp(H) = 3 / 2 ** (2 / 3).
    z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    assert effective_rank(z) == pytest.approx(3 / 2 ** (2 / 3), rel=1e-12)
    # Centring: adding the same vector to every row changes nothing.
    assert effective_rank(z + np.array([7.0, -3.0])) == pytest.approx(3 / 2 ** (2 / 3),
                                                                       rel=1e-12)
    # Equal spread along 4 orthogonal directions: rank 4.
    spread = np.concatenate([np.eye(4), -np.eye(4)])
    assert effective_rank(spread) == pytest.approx(4.0, rel=1e-12)
    # Every row on one line through the mean: rank 1 (dimensional collapse).
    line = np.outer(np.arange(5.0), [1.0, 2.0, -1.0])
    assert effective_rank(line) == pytest.approx(1.0, rel=1e-12)
    # No spread at all (complete collapse), however large the shared vector: 0.
    assert effective_rank(np.tile([1e3, -2.5, 0.1], (8, 1)).astype(np.float32)) == 0.0


def test_statistics_reject_what_they_cannot_measure():
    with pytest.raises(ValueError, match=r'matrix \(n, C\)'):
        feature_std(np.zeros(5))
    with pytest.raises(ValueError, match='at least 2 rows'):
        effective_rank(np.zeros((1, 4)))
    with pytest.raises(ValueError, match='NaN'):
        feature_std(np.array([[0.0], [np.nan]]))


# ---------------------------------------------------------------- the hook

T = 32  # 8 patch rows of 4 frames: 200 tokens, 20 visible at ratio 0.9


def tiny_gfp():
    """Encoder 1 x 32, targets of 16 dims at 100 / 50 / 25 / 1 tokens per person."""
    return MODELS.build(dict(
        type='GFP',
        backbone=dict(type='SkeletonTransformer', num_frames=T, embed_dims=32, depth=1,
                      num_heads=2),
        neck=dict(type='HierarchicalDecoder', in_dims=32, embed_dims=32, num_rows=T // 4,
                  pool_kernels=(2, 4, 8), depths=(1, 1, 1), num_heads=2, target_dims=16,
                  global_hidden=32),
        target_generator=dict(type='MotionTargetGenerator', pool_kernels=(2, 4, 8),
                              target_dims=16, local_hidden=32, global_hidden=32),
        head=dict(type='GFPHead')))


def test_measure_leaves_padded_persons_out():
    torch.manual_seed(0)
    model = tiny_gfp()
    joints = torch.zeros(1, 1, 2, T, 25, 3)
    joints[0, 0, 0] = torch.randn(T, 25, 3)  # person 1 is zero padding
    mask = np.ones((1, 2, 200), dtype=bool)
    mask[..., ::10] = False  # 20 visible tokens per person
    sample = ActionDataSample()
    sample.set_field(mask, 'token_mask')
    stats = CollapseMonitorHook().measure(model, dict(inputs=[joints[0]],
                                                      data_samples=[sample]))
    assert model.training  # the hook measures in eval mode and restores the training mode

    assert list(stats) == ['target0', 'target1', 'target2', 'encoder']  # 1 person: no
    # 'target3' (1 row) and no 'encoder_pooled' (1 row) to measure a spread over.
    with torch.no_grad():
        model.eval()
        real = joints[0, 0, :1]  # (1, T, V, C)
        targets = model.target_generator(real)
        latent, _ = model.backbone.forward_visible(real, torch.from_numpy(mask[0, :1]), 20)
        with_padding, _ = model.backbone.forward_visible(joints[0, 0],
                                                         torch.from_numpy(mask[0]), 20)
    for k in range(3):
        assert stats[f'target{k}']['std'] == pytest.approx(feature_std(targets[k][0]))
        assert stats[f'target{k}']['erank'] == pytest.approx(effective_rank(targets[k][0]))
        assert stats[f'target{k}']['dims'] == 16
    assert stats['encoder']['std'] == pytest.approx(feature_std(latent[0]), rel=1e-6)
    assert stats['encoder']['erank'] == pytest.approx(effective_rank(latent[0]), rel=1e-6)
    # Counting the padded person would give another value: the check above can fail.
    assert feature_std(with_padding.flatten(0, 1)) != pytest.approx(stats['encoder']['std'])


@pytest.fixture(scope='module')
def ann_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('data') / 'tiny_ntu.pkl'
    write_synthetic_ntu(str(path), num_classes=2, subjects=2, views=2, reps=1, seed=0,
                        min_frames=40, max_frames=60)
    return path  # xsub_train: 2 classes x 1 subject x 2 views = 4 clips


def build_runner(tmp_path, ann_file, name, collapsed=True, lr=0.0, monitor=True):
    pipeline = [
        dict(type='CentreOnFirstFrame', joint=1),
        dict(type='ValidCropResize', clip_len=T, p_interval=(1.0, )),
        dict(type='FormatGCNInput', num_person=2, mode='zero'),
        dict(type='RandomTokenMasking', mask_ratio=0.9, patch_len=4),
        dict(type='PackActionInputs', algorithm_keys=('token_mask', )),
    ]
    torch.manual_seed(0)
    model = tiny_gfp()
    if collapsed:  # the last layer of every TGN MLP maps to 0, and with lr 0 it stays so
        for mlp in [*model.target_generator.local_mlps, model.target_generator.global_mlp]:
            torch.nn.init.zeros_(mlp[-1].weight)
            torch.nn.init.zeros_(mlp[-1].bias)
    return Runner(
        model=model, work_dir=str(tmp_path), default_scope='mmaction',
        train_dataloader=dict(
            batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='PoseDataset', ann_file=str(ann_file), split='xsub_train',
                         pipeline=pipeline)),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=lr)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook', interval=100)),
        custom_hooks=[dict(type='CollapseMonitorHook', interval=3, std_threshold=0.05)]
        if monitor else [],
        # Two backends: the scalars must reach every one (TensorBoard is one more such).
        visualizer=dict(type='Visualizer', name=name, vis_backends=[
            dict(type='LocalVisBackend'),
            dict(type='LocalVisBackend', name='second', scalar_save_file='second.json')]),
        randomness=dict(seed=0))


def test_hook_logs_to_the_backends_and_warns_once_on_collapse(tmp_path, ann_file):
    runner = build_runner(tmp_path, ann_file, name='collapse_monitor_test')
    runner.train()  # 2 epochs x 2 iterations; measured after iterations 1 and 3

    scalars = [json.loads(line) for line in
               next(tmp_path.glob('*/vis_data/scalars.json')).read_text().splitlines()]
    monitored = [r for r in scalars if 'collapse/encoder_std' in r]
    second = [json.loads(line) for line in
              next(tmp_path.glob('*/vis_data/second.json')).read_text().splitlines()]
    assert [r for r in second if 'collapse/encoder_std' in r] == monitored
    assert [r['step'] for r in monitored] == [1, 3]
    names = ['target0', 'target1', 'target2', 'target3', 'encoder', 'encoder_pooled']
    assert set(monitored[0]) == {'step'} | {f'collapse/{n}_{s}' for n in names
                                            for s in ('std', 'erank')}
    for record in monitored:
        for k in range(4):  # the targets are exactly 0
            assert record[f'collapse/target{k}_std'] == 0.0
            assert record[f'collapse/target{k}_erank'] == 0.0
        assert record['collapse/encoder_std'] > 0.3  # the encoder is not collapsed
        assert 1.0 < record['collapse/encoder_erank'] <= 32.0

    log = next(tmp_path.glob('*/*.log')).read_text()
    assert log.count('Collapse monitor (iter') == 2
    assert log.count('COLLAPSE WARNING') == 4  # once per target level, not per measurement
    for k in range(4):
        assert log.count(f'(target{k}) has a mean per-dimension std of 0') == 1
    assert '(encoder)' not in log and '(encoder_pooled)' not in log


def test_hook_does_not_change_training(tmp_path, ann_file):
    # Same start, same data: with and without the monitor the trained weights must be
    # bitwise equal (no random draw taken, eval mode restored, no state touched).
    weights = []
    for monitor in (True, False):
        runner = build_runner(tmp_path / str(monitor), ann_file, name=f'monitor_{monitor}',
                              collapsed=False, lr=1e-3, monitor=monitor)
        initial = {k: v.clone() for k, v in runner.model.state_dict().items()}
        runner.train()
        weights.append(runner.model.state_dict())
        assert any(not torch.equal(initial[k], v) for k, v in weights[-1].items())  # it trained
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key


def test_hook_arguments_are_checked():
    with pytest.raises(ValueError, match='interval'):
        CollapseMonitorHook(interval=0)
    with pytest.raises(ValueError, match='std_threshold'):
        CollapseMonitorHook(std_threshold=-1)
