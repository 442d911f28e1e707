"""Fine-tuning parts by hand: the fine-tune head's pooling and layers, the layer-wise
learning-rate decay groups and the schedule that keeps them."""
import math

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

from gfp_mmaction.engine.optimizers import encoder_layer_id
from gfp_mmaction.models.heads import FinetuneHead

from protocol_helpers import REPO


def test_finetune_head_pools_time_then_persons_keeping_joints():
    N, M, C, T, V = 2, 2, 3, 4, 5
    x = torch.randn(N, M, C, T, V)
    head = FinetuneHead(num_classes=7, in_channels=C, num_joints=V, hidden_dims=6, dropout=0.3)
    pooled = head.pool(x)
    assert pooled.shape == (N, V * C)
    for n in range(N):
        for v in range(V):
            for c in range(C):  # joint-major, as MAMP flattens (J, C)
                expected = sum(x[n, m, c, t, v] for m in range(M) for t in range(T)) / (M * T)
                assert torch.isclose(pooled[n, v * C + c], expected, atol=1e-6)
    head.eval()  # dropout off, BatchNorm on its running statistics
    hidden = head.fc1(pooled)
    bn = head.bn
    hidden = (hidden - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    assert torch.allclose(head(x), head.fc2(hidden.clamp_min(0)), atol=1e-6)
    with pytest.raises(ValueError, match=r'\(N, M, 3, T, 5\)'):
        head(torch.randn(N, M, C, T, V + 1))


def test_finetune_head_default_is_mamps_6400_2048_head_with_smoothed_loss():
    head = FinetuneHead(num_classes=60, loss_cls=dict(type='CrossEntropyLoss'),
                        label_smooth_eps=0.1)
    assert (head.fc1.in_features, head.fc1.out_features, head.fc2.out_features) == \
        (6400, 2048, 60)
    assert head.dropout.p == 0.3
    scores = torch.randn(3, 60)
    samples = [ActionDataSample().set_gt_label(label) for label in (0, 5, 59)]
    loss = head.loss_by_feat(scores, samples)['loss_cls']
    log_p = scores.log_softmax(dim=1)
    target = torch.full((3, 60), 0.1 / 60)
    target[[0, 1, 2], [0, 5, 59]] += 0.9
    assert torch.isclose(loss, -(target * log_p).sum(dim=1).mean(), atol=1e-6)


def build_finetune_model(depth=3, frozen=False):
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO / 'configs/gfp/finetune_ntu60_xsub.py'))
    cfg.merge_from_dict({'model.backbone.embed_dims': 16, 'model.backbone.depth': depth,
                         'model.backbone.num_heads': 2, 'model.backbone.frozen': frozen,
                         'model.backbone.init_cfg': None, 'model.cls_head.in_channels': 16,
                         'model.cls_head.hidden_dims': 8})
    return MODELS.build(cfg.model), cfg


def test_layer_id_follows_mamps_count():
    assert encoder_layer_id('backbone.patch_embed.weight', 8) == 0
    assert encoder_layer_id('backbone.pos_embed.temporal', 8) == 0
    assert encoder_layer_id('backbone.blocks.0.attn.qkv.weight', 8) == 1
    assert encoder_layer_id('backbone.blocks.7.mlp.0.bias', 8) == 8
    assert encoder_layer_id('backbone.norm.weight', 8) == 9
    assert encoder_layer_id('cls_head.fc2.weight', 8) == 9


def test_layer_decay_groups_by_hand():
    """L = 3 blocks, rate 0.8, lr 3e-4, wd 0.05: every parameter once, with
    lr = 3e-4 * 0.8 ** (4 - depth) and no decay exactly for 1-D tensors."""
    model, cfg = build_finetune_model(depth=3)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lr_of, wd_of = {}, {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            assert id(p) not in lr_of, 'a parameter in two groups'
            lr_of[id(p)], wd_of[id(p)] = group['lr'], group['weight_decay']
    named = dict(model.named_parameters())
    assert len(lr_of) == len(named)
    expected_depth = {'backbone.patch_embed.weight': 0, 'backbone.pos_embed.spatial': 0,
                      'backbone.blocks.0.attn.qkv.weight': 1, 'backbone.blocks.2.norm2.bias': 3,
                      'backbone.norm.weight': 4, 'cls_head.fc1.weight': 4,
                      'cls_head.bn.weight': 4}
    for name, depth in expected_depth.items():
        assert math.isclose(lr_of[id(named[name])], 3e-4 * 0.8 ** (4 - depth)), name
    for name, p in named.items():
        assert wd_of[id(p)] == (0.0 if p.ndim == 1 else 0.05), name
    assert isinstance(wrapper.optimizer, torch.optim.AdamW)
    # A frozen encoder contributes nothing; the head keeps the full rate.
    frozen, _ = build_finetune_model(depth=3, frozen=True)
    groups = build_optim_wrapper(frozen, cfg.optim_wrapper).optimizer.param_groups
    assert {g['layer_id'] for g in groups} == {4}
    assert sum(len(g['params']) for g in groups) == len(list(frozen.cls_head.parameters()))


def test_layer_decay_needs_a_layered_backbone():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    cfg = dict(constructor='LayerDecayOptimWrapperConstructor',
               optimizer=dict(type='AdamW', lr=1e-3), paramwise_cfg=dict(layer_decay_rate=0.8))
    init_default_scope('mmaction')
    with pytest.raises(TypeError, match='num_layers'):
        build_optim_wrapper(model, cfg)
    with pytest.raises(KeyError, match='layer_decay_rate'):
        build_optim_wrapper(model, dict(cfg, paramwise_cfg=dict()))


def test_schedule_warms_up_then_keeps_each_layers_ratio_down_to_min_lr():
    """The fine-tune schedule over 100 epochs of 2 iterations: 5 linear warm-up epochs to
    3e-4 x scale, then cosine to 1e-5 x scale, for every layer."""
    model, cfg = build_finetune_model(depth=2)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    epoch_length = 2
    schedulers = []
    for scheduler_cfg in cfg.param_scheduler:
        scheduler_cfg = dict(scheduler_cfg)
        scheduler_cfg.pop('convert_to_iter_based')
        kind = PARAM_SCHEDULERS.get(scheduler_cfg.pop('type'))
        schedulers.append(kind.build_iter_from_epoch(
            wrapper.optimizer, epoch_length=epoch_length, **scheduler_cfg))
    scales = [g['lr_scale'] for g in wrapper.optimizer.param_groups]
    history = []
    for _ in range(100 * epoch_length):
        history.append([g['lr'] for g in wrapper.optimizer.param_groups])
        wrapper.optimizer.step()  # no gradients: changes nothing, keeps torch's order check
        for scheduler in schedulers:
            scheduler.step()
    for step, lrs in enumerate(history):
        ratio = [lr / scale for lr, scale in zip(lrs, scales)]
        assert max(ratio) - min(ratio) < 1e-12 * 3e-4, step  # the same curve for all layers
    head = [lrs[-1] for lrs in history]  # the head's group: scale 1
    warmup = 5 * epoch_length
    assert math.isclose(head[0], 3e-7, rel_tol=1e-6)  # start_factor 1e-3
    assert all(a < b for a, b in zip(head[:warmup - 1], head[1:warmup]))
    assert math.isclose(head[warmup], 3e-4, rel_tol=1e-6) and max(head) <= 3e-4 * (1 + 1e-9)
    assert all(a >= b for a, b in zip(head[warmup:], head[warmup + 1:]))
    assert math.isclose(history[-1][-1], 1e-5, rel_tol=0.01)  # one step before the end
