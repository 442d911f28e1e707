"""The method's formulas (GFP_METHOD.md sections 1-7) against independent re-computations.

Each test recomputes one part of the method from its definition in the spec, with plain
tensor arithmetic in float64 written here and in tests/reference_math.py (loops, explicit
softmax / LayerNorm / GELU), on small tensors, and compares the model's output with it: a
one-line change to a formula (the TGN fed joints instead of motion, max instead of mean
pooling, a post-LN block, a loss weight, the 1e-4 of L_var, the visible count, ...) fails
a test here. The values of the shipped configs are pinned in
tests/package/test_config_pins.py.
"""
import math

import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope
from torch import nn

from gfp_mmaction.datasets.transforms.masking import MotionAwareTokenMasking, RandomTokenMasking
from gfp_mmaction.models.data_preprocessors import SkeletonPretrainPreprocessor
from gfp_mmaction.models.heads import GFPHead, LinearProbeHead, MAMPHead, PooledFeatureHead
from gfp_mmaction.models.necks import HierarchicalDecoder
from gfp_mmaction.models.necks.mask_token_grid import MaskTokenGrid
from gfp_mmaction.models.target_generators import MotionTargetGenerator
from gfp_mmaction.models.target_generators.motion_tgn import make_mlp
from gfp_mmaction.utils import model_config

from model_helpers import tiny_gfp as shared_tiny_gfp
from protocol_helpers import REPO
from reference_math import (
    randomise,
    ref_block,
    ref_frame_motion,
    ref_gelu,
    ref_layer_norm,
    ref_linear,
    ref_mlp,
    ref_patches,
    ref_pool_rows,
)

D64 = torch.float64


# ------------------------------------------------------------------ 1. tokens
def test_patch_embedding_is_mamps_conv2d_over_4_frame_joint_tracks():
    g = torch.Generator().manual_seed(0)
    backbone = MODELS.build(dict(type='SkeletonTransformer', num_frames=16, embed_dims=8,
                                 depth=1, num_heads=2)).eval()
    # MAMP: Conv2d(3, D, kernel=stride=(4, 1)) on (N, C, T, V)
    conv = nn.Conv2d(3, 8, kernel_size=(4, 1), stride=(4, 1))
    with torch.no_grad():
        conv.weight.copy_(torch.randn(8, 3, 4, 1, generator=g))
        conv.bias.copy_(torch.randn(8, generator=g))
        # the same map as a linear over the 12 frame-major values of a token
        backbone.patch_embed.weight.copy_(conv.weight[..., 0].permute(0, 2, 1).reshape(8, 12))
        backbone.patch_embed.bias.copy_(conv.bias)
        backbone.pos_embed.temporal.zero_()
        backbone.pos_embed.spatial.zero_()
    x = torch.randn(2, 16, 25, 3, generator=g)
    expected = conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # (N, T_e, V, D)
    assert backbone.embed(x).shape == (2, 4, 25, 8)
    torch.testing.assert_close(backbone.embed(x), expected, rtol=1e-5, atol=1e-5)
    by_loops = ref_linear(ref_patches(x.double()), backbone.patch_embed)
    torch.testing.assert_close(backbone.embed(x).double(), by_loops, rtol=1e-5, atol=1e-5)


def test_positional_embeddings_are_factorised_and_added_to_every_token_no_cls():
    g = torch.Generator().manual_seed(1)
    backbone = MODELS.build(dict(type='SkeletonTransformer', num_frames=120, embed_dims=8,
                                 depth=1, num_heads=2)).eval()
    assert backbone.pos_embed.temporal.shape == (1, 30, 1, 8)
    assert backbone.pos_embed.spatial.shape == (1, 1, 25, 8)
    randomise(backbone, g)
    x = torch.randn(1, 120, 25, 3, generator=g)
    tokens = backbone.embed(x)
    patch = ref_linear(ref_patches(x.double()), backbone.patch_embed)
    for t, v in ((0, 0), (7, 3), (29, 24)):
        expected = patch[0, t, v] + backbone.pos_embed.temporal[0, t, 0].double() + \
            backbone.pos_embed.spatial[0, 0, v].double()
        torch.testing.assert_close(tokens[0, t, v].double(), expected, rtol=1e-5, atol=1e-5)
    # added before masking: a visible token keeps its own position's embedding; no cls
    mask = torch.ones(1, 750, dtype=torch.bool)
    mask[0, [3, 200, 749]] = False
    backbone.blocks = nn.ModuleList()  # encoder = final LayerNorm only
    latent, index = backbone.forward_visible(x, mask, 3)
    assert latent.shape == (1, 3, 8) and index.tolist() == [[3, 200, 749]]
    flat = tokens.flatten(1, 2)[0, [3, 200, 749]].double()
    torch.testing.assert_close(latent[0].double(), ref_layer_norm(flat, backbone.norm),
                               rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ 2. masking
def test_visible_count_is_75_of_750_and_74_with_mamps_int():
    for make in (SkeletonPretrainPreprocessor, RandomTokenMasking, MotionAwareTokenMasking):
        assert make(mask_ratio=0.9).num_visible(750) == 75
        assert make(mask_ratio=0.9, visible_rounding='floor').num_visible(750) == 74
        assert make(mask_ratio=0.9, visible_rounding='floor').num_visible(750) == \
            int(750 * (1 - 0.9))  # MAMP's len_keep, as its code computes it
        with pytest.raises(ValueError, match='visible_rounding'):
            make(visible_rounding='ceil')
    kp = np.random.default_rng(0).normal(size=(1, 2, 120, 25, 3))
    for rounding, visible in (('round', 75), ('floor', 74)):
        mask = MotionAwareTokenMasking(visible_rounding=rounding)(dict(keypoint=kp))['token_mask']
        assert mask.shape == (1, 2, 750) and ((~mask).sum(-1) == visible).all()


def hand_motion_aware_scores(kp, tau, u):
    """MAMP's score per token: m = mean |patch[t] - patch[t-1]| (row 0 = row 1),
    m / (max m * tau + 1e-10), log softmax, + Gumbel(u)."""
    patches = ref_patches(torch.as_tensor(kp, dtype=D64)[None])[0]  # (R, V, 12)
    R, V, _ = patches.shape
    m = torch.zeros(R, V, dtype=D64)
    for r in range(1, R):
        m[r] = (patches[r] - patches[r - 1]).abs().mean(-1)
    m[0] = m[1]
    m = m.flatten()
    m = m / (m.max() * tau + 1e-10)
    log_p = m - torch.log(torch.exp(m).sum())
    return log_p - torch.log(-torch.log(torch.as_tensor(u, dtype=D64) + 1e-10) + 1e-10)


def test_motion_aware_masking_scores_and_keeps_the_lowest_by_hand():
    rng = np.random.default_rng(3)
    kp = rng.normal(size=(12, 3, 3))  # 3 patch rows x 3 joints = 9 tokens
    kp[:, 2] *= 20  # a fast joint
    u = rng.uniform(size=9)
    for tau in (0.8, 0.75):
        expected = hand_motion_aware_scores(kp, tau, u)
        masking = MotionAwareTokenMasking(mask_ratio=2 / 3, tau=tau)
        np.testing.assert_allclose(masking.scores(kp, u), expected.numpy(), rtol=1e-9)
        keep = set(np.argsort(expected.numpy())[:3].tolist())
        assert set(np.flatnonzero(~masking.mask_from_scores(expected.numpy()))) == keep
        pre = SkeletonPretrainPreprocessor(clip_len=12, mask_ratio=2 / 3, tau=tau)
        index = pre.visible_tokens(torch.as_tensor(kp, dtype=torch.float32)[None, None],
                                   torch.as_tensor(u, dtype=torch.float32)[None, None])
        assert index.tolist() == [sorted(keep)]
    # an all-zero (padded) person: uniform p, the scores are the Gumbel noise alone
    zero = MotionAwareTokenMasking(mask_ratio=2 / 3).scores(np.zeros((12, 3, 3)), u)
    np.testing.assert_allclose(zero - zero[0], (hand_motion_aware_scores(
        np.zeros((12, 3, 3)), 0.8, u) - hand_motion_aware_scores(
        np.zeros((12, 3, 3)), 0.8, u)[0]).numpy(), atol=1e-12)
    np.testing.assert_allclose(zero + np.log(9), -np.log(-np.log(u + 1e-10) + 1e-10),
                               atol=1e-12)


# ------------------------------------------------------------------ 3. encoder
def test_encoder_is_pre_layernorm_blocks_with_gelu_mlp_and_a_final_norm():
    g = torch.Generator().manual_seed(2)
    backbone = MODELS.build(dict(type='SkeletonTransformer', num_frames=8, embed_dims=8,
                                 depth=2, num_heads=2, mlp_ratio=4.0)).eval()
    randomise(backbone, g)
    tokens = torch.randn(2, 5, 8, generator=g)
    x = tokens.double()
    for block in backbone.blocks:
        x = ref_block(x, block, num_heads=2)
    expected = ref_layer_norm(x, backbone.norm)
    torch.testing.assert_close(backbone.encode(tokens).double(), expected, rtol=1e-5,
                               atol=1e-5)
    # the paper's encoder: 8 blocks, width 256, 8 heads, MLP 1024, qkv bias
    paper = MODELS.build(dict(type='SkeletonTransformer'))
    block = paper.blocks[0]
    assert (len(paper.blocks), paper.embed_dims, block.attn.num_heads) == (8, 256, 8)
    assert block.mlp[0].out_features == 1024 and block.attn.qkv.bias is not None


# ------------------------------------------------------------------ 4.1 decoder
def test_mask_token_grid_by_hand():
    g = torch.Generator().manual_seed(4)
    grid = randomise(MaskTokenGrid(in_dims=6, embed_dims=4, num_rows=3, num_joints=2), g)
    latent = torch.randn(2, 2, 6, generator=g)
    index = torch.tensor([[0, 5], [2, 3]])
    out = grid(latent, index)
    assert out.shape == (2, 3, 2, 4)
    for b in range(2):
        for token in range(6):
            t, v = divmod(token, 2)
            hits = (index[b] == token).nonzero()
            content = ref_linear(latent[b, hits[0, 0]].double(), grid.embed) if len(hits) \
                else grid.mask_token.double()
            expected = content + grid.pos_embed.temporal[0, t, 0].double() + \
                grid.pos_embed.spatial[0, 0, v].double()
            torch.testing.assert_close(out[b, t, v].double(), expected, rtol=1e-5, atol=1e-5)


def test_decoder_cascade_pools_patch_rows_5_10_30_into_150_75_25_1_tokens():
    """Level 1 pools the (30, 25) grid by 5 rows, level 2 pools level 1's *outputs* by 2
    (10 rows each), level 3 level 2's by 3 (30 rows); each level's blocks then its
    predictor; the global token = MLP of the mean of level 3's 25 tokens."""
    g = torch.Generator().manual_seed(5)
    neck = HierarchicalDecoder(in_dims=8, embed_dims=8, num_heads=2, target_dims=6,
                               global_hidden=16).eval()
    randomise(neck, g, std=0.2)
    seen = {}
    neck.grid.register_forward_hook(lambda m, i, o: seen.__setitem__('grid', o))
    for k, stage in enumerate(neck.stages):
        stage.register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(k, (i[0], o)))
    latent = torch.randn(2, 75, 8, generator=g)
    index = torch.stack([torch.randperm(750, generator=g)[:75].sort().values for _ in range(2)])
    predictions = neck(latent, index)
    assert [p.shape[1] for p in predictions] == [150, 75, 25, 1]
    previous = seen['grid'].double()  # (B, 30, 25, D)
    for k, factor in enumerate((5, 2, 3)):
        stage_in, stage_out = seen[k]
        expected_in = ref_pool_rows(previous, factor).flatten(1, 2)
        torch.testing.assert_close(stage_in.double(), expected_in, rtol=1e-5, atol=1e-5)
        x = stage_in.double()
        for block in neck.stages[k]:
            x = ref_block(x, block, num_heads=2)
        torch.testing.assert_close(stage_out.double(), x, rtol=1e-4, atol=1e-5)
        head = neck.predictors[k]
        torch.testing.assert_close(predictions[k].double(),
                                   ref_linear(ref_layer_norm(x, head[0]), head[1]),
                                   rtol=1e-4, atol=1e-5)
        previous = stage_out.double().reshape(2, -1, 25, 8)
    # every level-1 token covers 5 patch rows of the grid: 30 / 5 = 6 rows x 25 joints
    assert seen[0][0].shape[1] == 150 and seen[1][0].shape[1] == 75
    mean = seen[2][1].double().mean(1)  # (B, D) of the 25 joint tokens
    stage = neck.global_stage
    hidden = ref_gelu(ref_linear(ref_layer_norm(mean, stage[0]), stage[1]))
    token = ref_linear(hidden, stage[3])
    glob = ref_linear(ref_layer_norm(token, neck.global_predictor[0]), neck.global_predictor[1])
    torch.testing.assert_close(predictions[3][:, 0].double(), glob, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ 4.2 TGN
def test_target_generator_maps_pooled_frame_motion_patches_by_hand():
    g = torch.Generator().manual_seed(6)
    tgn = MotionTargetGenerator(pool_kernels=(2, 4, 8), target_dims=5, local_hidden=7,
                                global_hidden=9)
    randomise(tgn, g, std=0.2)
    joints = torch.randn(2, 32, 25, 3, generator=g)
    targets = tgn(joints)
    motion = ref_patches(ref_frame_motion(joints.double()))  # (B, 8, 25, 12)
    assert [t.shape for t in targets] == [(2, 100, 5), (2, 50, 5), (2, 25, 5), (2, 1, 5)]
    for k, kernel in enumerate((2, 4, 8)):
        pooled = ref_pool_rows(motion, kernel).flatten(1, 2)
        torch.testing.assert_close(targets[k].double(), ref_mlp(pooled, tgn.local_mlps[k]),
                                   rtol=1e-4, atol=1e-5)
    # global: the 25 joints' whole-clip pooled motion, flattened (25 x 12 values)
    descriptor = motion.mean(1).flatten(1)
    torch.testing.assert_close(targets[3][:, 0].double(), ref_mlp(descriptor, tgn.global_mlp),
                               rtol=1e-4, atol=1e-5)


def test_target_generator_mlps_are_3_layers_of_512_and_2048():
    tgn = MotionTargetGenerator()
    for mlp, widths in zip([*tgn.local_mlps, tgn.global_mlp],
                           [(12, 512, 512, 256)] * 3 + [(300, 2048, 2048, 256)]):
        linears = [m for m in mlp if isinstance(m, nn.Linear)]
        assert [lin.in_features for lin in linears] + [linears[-1].out_features] == \
            list(widths)
    g = torch.Generator().manual_seed(7)
    mlp = randomise(make_mlp(4, 6, 3, num_layers=3), g)
    x = torch.randn(5, 4, generator=g)
    torch.testing.assert_close(mlp(x).double(), ref_mlp(x.double(), mlp), rtol=1e-5, atol=1e-6)


def tiny_gfp(head=dict(type='GFPHead')):
    torch.manual_seed(0)
    return shared_tiny_gfp(head, width=16, target_dims=6)


def tiny_batch(seed=0, padded=True):
    """3 clips of 2 persons, 32 frames; clip 1's second person is padding (all zero).
    Returns inputs ``(3, 1, 2, 32, 25, 3)`` and a visible index ``(6, 20)``."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(3, 1, 2, 32, 25, 3, generator=g) * 0.3
    if padded:
        inputs[1, 0, 1] = 0
    index = torch.stack([torch.randperm(200, generator=g)[:20].sort().values
                         for _ in range(6)])
    return inputs, index


def run_capturing(model, inputs, index):
    """The loss terms, the decoder's predictions and the TGN's input and targets."""
    seen = {}
    hooks = [model.neck.register_forward_hook(lambda m, i, o: seen.__setitem__('pred', o)),
             model.target_generator.register_forward_hook(
                 lambda m, i, o: seen.__setitem__('tgn', (i[0], o)))]
    try:
        losses = model(inputs, dict(visible_index=index), mode='loss')
    finally:
        for hook in hooks:
            hook.remove()
    return losses, seen


def test_target_generator_sees_the_whole_unmasked_motion():
    model = randomise(tiny_gfp(), torch.Generator().manual_seed(10), std=0.2).eval()
    inputs, index = tiny_batch()
    _, seen = run_capturing(model, inputs, index)
    joints = inputs.flatten(0, 2)
    assert torch.equal(seen['tgn'][0], joints)  # every frame, masked tokens too
    targets = [t.detach() for t in seen['tgn'][1]]
    # another mask: the same targets; the decoder's predictions change
    _, other = run_capturing(model, inputs, torch.roll(index, 1, dims=0))
    for a, b in zip(targets, other['tgn'][1]):
        assert torch.equal(a, b)
    assert not torch.allclose(seen['pred'][0], other['pred'][0])
    # a move of one masked token changes the targets, not the encoder's view
    hidden = next(t for t in range(200) if t not in index[0].tolist())
    row, joint = divmod(hidden, 25)
    moved = inputs.clone()
    moved[0, 0, 0, 4 * row:4 * row + 4, joint] += 1.0
    _, after = run_capturing(model, moved, index)
    assert not torch.allclose(after['tgn'][1][0][0], targets[0][0])
    latent_before, _ = model.backbone.forward_visible(joints[:1], *_mask_of(index[:1]))
    latent_after, _ = model.backbone.forward_visible(moved.flatten(0, 2)[:1], *_mask_of(index[:1]))
    torch.testing.assert_close(latent_before, latent_after)


def _mask_of(index, length=200):
    mask = torch.ones(index.shape[0], length, dtype=torch.bool)
    return mask.scatter(1, index, False), index.shape[1]


# ------------------------------------------------------------------ 4.3 losses
def hand_gfp_losses(predictions, targets, person_weight):
    """L_pred = mean over levels of the MSE over tokens and dims, averaged over the real
    persons; per level L_var = (1/C) sum_i max(0, 1 - sqrt(Var_i + 1e-4)) and
    L_cov = (1/C) sum_{i != j} Cov_ij^2 over the rows of real persons (unbiased);
    L = 5 L_pred + sum_k (5 L_cov + 1 L_var)."""
    real = person_weight.bool()
    mse = [((p.double() - t.double()) ** 2)[real].mean() for p, t in zip(predictions, targets)]
    l_pred = sum(mse) / len(mse)
    l_var = l_cov = 0.0
    for t in targets:
        z = t.double()[real].reshape(-1, t.shape[-1]).detach().numpy()
        n, C = z.shape
        centred = z - z.mean(0)
        cov = centred.T @ centred / (n - 1)
        l_var += sum(max(0.0, 1 - math.sqrt(cov[i, i] + 1e-4)) for i in range(C)) / C
        l_cov += sum(cov[i, j] ** 2 for i in range(C) for j in range(C) if i != j) / C
    return dict(loss_pred=5 * l_pred.item(), loss_var=1 * l_var, loss_cov=5 * l_cov)


@pytest.mark.parametrize('source', ['defaults', 'config'])
def test_gfp_loss_terms_and_weights_by_hand(source):
    if source == 'defaults':
        head = dict(type='GFPHead')
    else:  # the head every GFP config inherits
        head = Config.fromfile(str(REPO / 'configs/_base_/models/gfp.py')).model.head
    model = tiny_gfp(head)
    inputs, index = tiny_batch()
    losses, seen = run_capturing(model, inputs, index)
    person_weight = torch.tensor([1., 1., 1., 0., 1., 1.])
    expected = hand_gfp_losses(seen['pred'], seen['tgn'][1], person_weight)
    for key, value in expected.items():
        assert losses[key].item() == pytest.approx(value, rel=1e-5), key
    # the weights: 5 / 5 / 1 (the raw terms differ, so a swapped weight shows)
    assert expected['loss_cov'] / 5 != pytest.approx(expected['loss_var'], rel=0.1)


def test_variance_term_uses_eps_1e4_inside_the_square_root():
    from gfp_mmaction.models.losses import VarianceCovarianceLoss
    # a constant level: Var = 0, so L_var = 1 - sqrt(1e-4) = 0.99 per level, exactly
    constant = [torch.ones(2, 3, 4)]
    out = VarianceCovarianceLoss()(constant)
    assert out['loss_var'].item() == pytest.approx(1 - math.sqrt(1e-4), rel=1e-6)
    assert out['loss_cov'].item() == 0


def test_gfp_total_loss_is_5_pred_plus_5_cov_plus_1_var():
    head = GFPHead()
    pred = [torch.zeros(2, 3, 2)]
    target = [torch.tensor([[[1., 0.], [0., 1.], [1., 1.]], [[0., 0.], [2., 0.], [0., 2.]]])]
    losses = head.loss(pred, target)
    mse = (target[0] ** 2).mean().item()
    z = target[0].reshape(-1, 2).double()
    c = z - z.mean(0)
    cov = c.T @ c / 5
    var = sum(max(0, 1 - math.sqrt(cov[i, i].item() + 1e-4)) for i in range(2)) / 2
    cov_term = 2 * cov[0, 1].item() ** 2 / 2
    assert losses['loss_pred'].item() == pytest.approx(5 * mse, rel=1e-6)
    assert losses['loss_var'].item() == pytest.approx(var, rel=1e-6)
    assert losses['loss_cov'].item() == pytest.approx(5 * cov_term, rel=1e-6)


# ------------------------------------------------------------------ MAMP's loss
def hand_mamp_loss(prediction, joints, mask, counted):
    """MAMP's forward_loss: target = frame motion patches, normalised per patch
    ((x - mean) / sqrt(unbiased var + 1e-6)); MSE per token; mean over the masked tokens
    of the counted sequences."""
    target = ref_patches(ref_frame_motion(joints.double())).flatten(1, 2)
    mean = target.mean(-1, keepdim=True)
    var = ((target - mean) ** 2).sum(-1, keepdim=True) / (target.shape[-1] - 1)
    target = (target - mean) / torch.sqrt(var + 1e-6)
    per_token = ((prediction.double() - target) ** 2).mean(-1)
    total = count = 0.0
    for b in range(per_token.shape[0]):
        if not counted[b]:
            continue
        for token in range(per_token.shape[1]):
            if mask[b, token]:
                total += per_token[b, token].item()
                count += 1
    return total / count


def test_mamp_head_constructs_the_frame_motion_patches_by_hand():
    """MAMP's target, built by the head alone: x[t] = t^2 on one joint gives the motion
    2t + 1 (0 for the last frame), cut into the encoder's 4-frame tokens; with
    ``norm_target`` each patch is standardised over its 12 values."""
    t = torch.arange(8, dtype=torch.float32)
    joints = torch.stack([t ** 2, -t, torch.zeros(8)], dim=-1)[None, :, None]  # (1, 8, 1, 3)
    raw = MAMPHead(norm_target=False).construct_target(joints, patch_len=4)
    expected = torch.tensor([[[1., -1, 0, 3, -1, 0, 5, -1, 0, 7, -1, 0],
                              [9., -1, 0, 11, -1, 0, 13, -1, 0, 0, 0, 0]]])
    assert torch.equal(raw, expected)
    # First patch: sum 12, mean 1; squared deviations 0+4+1+4+4+1+16+4+1+36+4+1 = 76,
    # unbiased variance 76 / 11.
    normalised = MAMPHead().construct_target(joints, patch_len=4)
    first = (expected[0, 0] - 1) / (76 / 11 + 1e-6) ** 0.5
    torch.testing.assert_close(normalised[0, 0], first)
    second = expected[0, 1]
    torch.testing.assert_close(
        normalised[0, 1], (second - second.mean()) / (second.var() + 1e-6).sqrt())


@pytest.mark.parametrize('count_padded', [False, True])
def test_mamp_loss_by_hand_with_and_without_padded_persons(count_padded):
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MAMP',
        backbone=dict(type='SkeletonTransformer', num_frames=32, embed_dims=16, depth=1,
                      num_heads=2),
        neck=dict(type='MAMPDecoder', in_dims=16, embed_dims=16, num_rows=8, depth=1,
                  num_heads=2, out_dims=12),
        head=dict(type='MAMPHead', count_padded_persons=count_padded)))
    inputs, index = tiny_batch()
    seen = {}
    model.neck.register_forward_hook(lambda m, i, o: seen.__setitem__('pred', o))
    loss = model(inputs, dict(visible_index=index), mode='loss')['loss_pred']
    mask, _ = _mask_of(index)
    real = [True, True, True, False, True, True]
    counted = [True] * 6 if count_padded else real
    expected = hand_mamp_loss(seen['pred'], inputs.flatten(0, 2), mask, counted)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    other = hand_mamp_loss(seen['pred'], inputs.flatten(0, 2), mask,
                           real if count_padded else [True] * 6)
    assert abs(other - expected) > 1e-3 * expected  # the padded person makes a difference


@pytest.fixture(scope='module')
def raw_batch(synthetic_ann_file):
    """A batch of raw clips as the pre-training data path makes it (SkeletonClipDataset +
    skeleton_clip_collate), 4 clips of the embedded dataset."""
    from gfp_mmaction.datasets import SkeletonClipDataset, skeleton_clip_collate
    dataset = SkeletonClipDataset(str(synthetic_ann_file), split='xsub_train')
    return skeleton_clip_collate(dataset.__getitems__([0, 1, 2, 3]))


@pytest.mark.parametrize('config, depth, visible', [
    ('configs/mamp/mamp_published_ntu60_xsub.py', 3, 74),
    ('configs/mamp/mamp_published_ntu120_xsub.py', 5, 74),
    ('configs/mamp/mamp_ntu60_xsub.py', 5, 75),
])
def test_published_mamp_configs_run_mamps_settings(config, depth, visible, raw_batch):
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO / config))
    model = MODELS.build(model_config(cfg))
    assert len(model.neck.blocks) == depth
    out = model.data_preprocessor(raw_batch, True)
    assert out['data_samples']['visible_index'].shape == (4 * 2, visible)
    published = 'published' in config
    assert model.head.count_padded_persons == published
    # the optimiser: MAMP decays its (1, 1, D) mask token; 1-D parameters otherwise not
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {id(p): group['weight_decay'] for group in wrapper.optimizer.param_groups
             for p in group['params']}
    assert decay[id(model.neck.grid.mask_token)] == (0.05 if published else 0.0)


# ------------------------------------------------------------------ 6. recipe
def tiny_from_config(config):
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO / config))
    cfg.merge_from_dict({
        'model.backbone.embed_dims': 16, 'model.backbone.depth': 1,
        'model.backbone.num_heads': 2, 'model.neck.in_dims': 16, 'model.neck.embed_dims': 16,
        'model.neck.num_heads': 2, 'model.neck.target_dims': 8,
        'model.neck.global_hidden': 16, 'model.target_generator.target_dims': 8,
        'model.target_generator.local_hidden': 16, 'model.target_generator.global_hidden': 16})
    return MODELS.build(model_config(cfg)), cfg


def test_pretraining_optimiser_adamw_no_decay_exactly_on_1d_parameters():
    model, cfg = tiny_from_config('configs/gfp/gfp_ntu60_xsub.py')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    optimizer = wrapper.optimizer
    assert isinstance(optimizer, torch.optim.AdamW)
    seen = {}
    for group in optimizer.param_groups:
        assert group['betas'] == (0.9, 0.95) and group['lr'] == 1e-3
        for p in group['params']:
            seen[id(p)] = group['weight_decay']
    named = dict(model.named_parameters())
    assert len(seen) == len(named)
    for name, p in named.items():  # biases, LayerNorm weights, the mask token: no decay
        assert seen[id(p)] == (0.0 if p.ndim == 1 else 0.05), name
    assert seen[id(named['backbone.pos_embed.temporal'])] == 0.05  # 4-D, as in MAMP


def mamp_lr(epoch, lr=1e-3, min_lr=5e-4, warmup=20, epochs=400):
    """MAMP's util/lr_sched.adjust_learning_rate, called per iteration with a fractional
    epoch."""
    if epoch < warmup:
        return lr * epoch / warmup
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * (epoch - warmup) /
                                                        (epochs - warmup)))


def test_pretraining_lr_is_mamps_warmup_then_half_cosine_per_iteration():
    model, cfg = tiny_from_config('configs/gfp/gfp_ntu60_xsub.py')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    epoch_length = 4
    schedulers = []
    for scheduler_cfg in cfg.param_scheduler:
        scheduler_cfg = dict(scheduler_cfg)
        scheduler_cfg.pop('convert_to_iter_based')
        kind = PARAM_SCHEDULERS.get(scheduler_cfg.pop('type'))
        schedulers.append(kind.build_iter_from_epoch(wrapper.optimizer,
                                                     epoch_length=epoch_length,
                                                     **scheduler_cfg))
    warmup_iters = 20 * epoch_length
    worst_warmup = worst_cosine = 0.0
    for step in range(400 * epoch_length):
        delta = abs(wrapper.optimizer.param_groups[0]['lr'] - mamp_lr(step / epoch_length))
        if step < warmup_iters:
            worst_warmup = max(worst_warmup, delta)
        else:
            worst_cosine = max(worst_cosine, delta)
        wrapper.optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    # The half-cosine from 1e-3 at epoch 20 to 5e-4 at epoch 400, per iteration: exact.
    assert worst_cosine < 1e-12, worst_cosine
    # The warm-up: MMEngine's LinearLR starts at start_factor * lr (1e-7) where MAMP starts
    # at 0, and reaches the peak on its last warm-up iteration where MAMP reaches it on the
    # first one after: at most one warm-up iteration's increment apart (NTU-60 x-sub, 313
    # iterations per epoch: 1.6e-7).
    assert worst_warmup <= 1e-3 / (warmup_iters - 1) + 1e-7, worst_warmup
    assert mamp_lr(20) == 1e-3 and mamp_lr(400) == pytest.approx(5e-4)


# ------------------------------------------------------------------ 7. protocols
def test_linear_probe_head_pools_then_unscaled_batchnorm_then_linear():
    g = torch.Generator().manual_seed(9)
    head = LinearProbeHead(num_classes=3, in_channels=4)
    randomise(head.fc, g)
    assert not head.norm.affine and sum(p.numel() for p in head.norm.parameters()) == 0
    x = torch.randn(5, 2, 4, 6, 25, generator=g)  # (N, M, C, T_e, V)
    pooled = x.double().mean(dim=(1, 3, 4))
    # training mode: the batch's statistics (biased variance), no affine
    normed = (pooled - pooled.mean(0)) / torch.sqrt(pooled.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(head(x).double(), ref_linear(normed, head.fc), rtol=1e-4,
                               atol=1e-5)
    torch.testing.assert_close(PooledFeatureHead.pool(x).double(), pooled)


def test_finetune_drop_path_rises_linearly_to_0_3_in_the_last_block():
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO / 'configs/gfp/finetune_ntu60_xsub.py'))
    cfg.model.backbone.init_cfg = None
    backbone = MODELS.build(cfg.model.backbone)
    rates = [block.drop_path.drop_prob for block in backbone.blocks]
    assert rates == pytest.approx([0.3 * i / 7 for i in range(8)])
    assert MODELS.build(cfg.model.cls_head).dropout.p == 0.3
