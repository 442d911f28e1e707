"""GFP's model parts: token counts, shapes, equivalences, padding and collapse."""
import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from gfp_mmaction.models.necks import cascade_pool_factors

from model_helpers import tiny_gfp as shared_tiny_gfp

PAPER_GFP = dict(
    type='GFP',
    backbone=dict(type='SkeletonTransformer'),
    neck=dict(type='HierarchicalDecoder'),
    target_generator=dict(type='MotionTargetGenerator'),
    head=dict(type='GFPHead'))


def tiny_gfp(regularizer=dict(type='VarianceCovarianceLoss'), **head):
    return shared_tiny_gfp(dict(type='GFPHead', regularizer=regularizer, **head))


def random_mask(batch, length, num_visible, generator=None):
    mask = torch.ones(batch, length, dtype=torch.bool)
    for row in mask:
        row[torch.randperm(length, generator=generator)[:num_visible]] = False
    return mask


def data_samples_with(mask):
    """Per-sample ``token_mask`` fields as the masking transform and PackActionInputs make
    them: ``(num_clips=1, M, L)`` numpy arrays."""
    samples = []
    for person_masks in mask.numpy():
        sample = ActionDataSample()
        sample.set_field(person_masks[None], 'token_mask')
        samples.append(sample)
    return samples


def test_cascade_pool_factors():
    assert cascade_pool_factors(30, (5, 10, 30)) == [5, 2, 3]
    with pytest.raises(ValueError, match='do not nest'):
        cascade_pool_factors(30, (5, 12, 30))  # 12 rows is not a whole number of 5s
    with pytest.raises(ValueError, match='do not nest'):
        cascade_pool_factors(30, (4, 8, 24))  # 4 does not divide 30 rows


def test_paper_model_predicts_251_targets_per_person():
    torch.manual_seed(0)
    model = MODELS.build(PAPER_GFP).eval()
    joints = torch.randn(2, 120, 25, 3)
    mask = random_mask(2, 750, 75)
    with torch.no_grad():
        latent, index = model.backbone.forward_visible(joints, mask, 75)
        predictions = model.neck(latent, index)
        targets = model.target_generator(joints)
    assert latent.shape == (2, 75, 256)
    assert [p.shape[1] for p in predictions] == [150, 75, 25, 1]
    assert sum(p.shape[1] for p in predictions) == 251
    assert [t.shape for t in targets] == [p.shape for p in predictions]
    assert all(p.shape[-1] == 256 for p in predictions)


def test_encoder_sees_only_the_visible_tokens():
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='SkeletonTransformer', depth=2)).eval()
    joints = torch.randn(1, 120, 25, 3)
    mask = random_mask(1, 750, 75)
    with torch.no_grad():
        latent, index = backbone.forward_visible(joints, mask, 75)
        changed = joints.clone()
        hidden_token = int(torch.nonzero(mask[0])[0])
        row, joint = divmod(hidden_token, 25)
        changed[0, 4 * row:4 * row + 4, joint] += 10.0  # move a masked token only
        latent_changed, _ = backbone.forward_visible(changed, mask, 75)
    assert torch.equal(index[0], torch.nonzero(~mask[0]).squeeze(1))
    torch.testing.assert_close(latent, latent_changed)


def test_full_sequence_mode_equals_pretraining_mode_with_nothing_masked():
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='SkeletonTransformer', depth=2)).eval()
    x = torch.randn(3, 2, 120, 25, 3)
    with torch.no_grad():
        full = backbone(x)  # (N, M, D, T_e, V)
        nothing_masked = torch.zeros(6, 750, dtype=torch.bool)
        visible, index = backbone.forward_visible(x.flatten(0, 1), nothing_masked, 750)
    assert full.shape == (3, 2, 256, 30, 25)
    assert torch.equal(index, torch.arange(750).expand(6, -1))
    expected = visible.reshape(3, 2, 30, 25, 256).permute(0, 1, 4, 2, 3)
    torch.testing.assert_close(full, expected, rtol=1e-5, atol=1e-5)


def test_other_clip_lengths_resize_the_temporal_positions():
    backbone = MODELS.build(dict(type='SkeletonTransformer', depth=1)).eval()
    with torch.no_grad():
        out = backbone(torch.randn(1, 2, 100, 25, 3))  # UniformSampleFrames(100)
        table = backbone.pos_embed(30)
    assert out.shape == (1, 2, 256, 25, 25)
    torch.testing.assert_close(backbone.pos_embed(30), table)  # trained length: unchanged
    assert backbone.pos_embed(25).shape == (1, 25, 25, 256)


def test_a_checkpoint_of_another_clip_length_loads_with_its_table_resized(tmp_path):
    """The backbone's load hook: a 60-frame (15-row) temporal table loaded into a
    120-frame (30-row) encoder, by a plain ``load_state_dict`` and by MMEngine's
    ``load_checkpoint`` of a prefixed checkpoint, becomes the table linearly resized
    (align_corners=False): row i samples row (i + 0.5) / 2 - 0.5 of the 15, clamped."""
    from mmengine.runner.checkpoint import load_checkpoint
    short = MODELS.build(dict(type='SkeletonTransformer', num_frames=60, embed_dims=4,
                              depth=1, num_heads=2))
    state = short.state_dict()
    rows = torch.arange(15, dtype=torch.float32)
    state['pos_embed.temporal'] = (rows[:, None] * torch.tensor([1., 2., -1., 0.5]))[None, :, None]
    src = [(i + 0.5) / 2 - 0.5 for i in range(30)]
    by_hand = torch.tensor([min(max(x, 0.0), 14.0) for x in src])  # 0, .25, .75, ..., 13.75, 14
    assert by_hand[:4].tolist() == [0.0, 0.25, 0.75, 1.25] and by_hand[-2:].tolist() == [13.75, 14.]
    expected = (by_hand[:, None] * torch.tensor([1., 2., -1., 0.5]))[None, :, None]

    long = MODELS.build(dict(type='SkeletonTransformer', num_frames=120, embed_dims=4,
                             depth=1, num_heads=2))
    long.load_state_dict(state)
    assert long.pos_embed.temporal.shape == (1, 30, 1, 4)
    torch.testing.assert_close(long.pos_embed.temporal.data, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(long.pos_embed.spatial.data, state['pos_embed.spatial'],
                               rtol=0, atol=0)

    path = tmp_path / 'recognizer.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()}}, path)
    other = MODELS.build(dict(type='SkeletonTransformer', num_frames=120, embed_dims=4,
                              depth=1, num_heads=2))
    load_checkpoint(other, str(path), revise_keys=[(r'^backbone\.', '')], strict=True)
    torch.testing.assert_close(other.pos_embed.temporal.data, expected, rtol=0, atol=1e-6)


def test_loss_ignores_padded_persons():
    torch.manual_seed(0)
    model = tiny_gfp().eval()
    g = torch.Generator().manual_seed(0)
    single = torch.randn(3, 1, 1, 32, 25, 3, generator=g) * 0.1
    padded = torch.cat([single, torch.zeros_like(single)], dim=2)  # (3, 1, 2, ...)
    mask = random_mask(6, 200, 20, generator=g).reshape(3, 2, 200)
    with torch.no_grad():
        loss_single = model(single, data_samples_with(mask[:, :1]), mode='loss')
        loss_padded = model(padded, data_samples_with(mask), mode='loss')
    for key in ('loss_pred', 'loss_var', 'loss_cov'):
        torch.testing.assert_close(loss_padded[key], loss_single[key], rtol=1e-5, atol=1e-6)


def test_prediction_loss_trains_the_target_generator_unless_stopped():
    g = torch.Generator().manual_seed(0)
    joints = torch.randn(2, 1, 1, 32, 25, 3, generator=g)
    samples = data_samples_with(random_mask(2, 200, 20, generator=g).reshape(2, 1, 200))
    for stop, expect_grad in ((False, True), (True, False)):
        model = tiny_gfp(regularizer=None, stop_grad_targets=stop)
        model(joints, samples, mode='loss')['loss_pred'].backward()
        grads = [p.grad for p in model.target_generator.parameters()]
        has_grad = any(g is not None and g.abs().sum() > 0 for g in grads)
        assert has_grad == expect_grad


def test_decoder_and_target_generator_must_agree_on_levels():
    cfg = dict(PAPER_GFP, neck=dict(type='HierarchicalDecoder', pool_kernels=(5, 30),
                                    depths=(1, 1)))
    with pytest.raises(ValueError, match='predicts 3 levels but the target generator makes 4'):
        MODELS.build(cfg)


def _train_target_std(regularizer, steps=150):
    """Jointly train a tiny GFP on smooth whole-body motion; per-level mean per-dim std of
    the TGN outputs before and after."""
    torch.manual_seed(0)
    model = tiny_gfp(regularizer)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(1)
    t = torch.arange(32.)[None, :, None, None]
    freq = 0.1 + 0.3 * torch.rand(8, 1, 1, 1, generator=g)
    phase = 6.3 * torch.rand(8, 1, 1, 1, generator=g) + torch.linspace(0, 3, 75).reshape(
        1, 1, 25, 3)
    amplitude = (0.05 + 0.2 * torch.rand(8, 1, 1, 1, generator=g)) * torch.linspace(
        0.2, 1, 75).reshape(1, 1, 25, 3)
    joints = amplitude * torch.sin(freq * t + phase)
    inputs = joints[:, None, None]
    samples = data_samples_with(random_mask(8, 200, 100, generator=g)[:, None])

    def target_std():
        with torch.no_grad():
            levels = model.target_generator(joints)
        return np.array([level.reshape(-1, level.shape[-1]).std(0).mean().item()
                         for level in levels])

    before = target_std()
    for _ in range(steps):
        losses = model(inputs, samples, mode='loss')
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    return before, target_std()


def test_targets_collapse_without_the_regularizer_and_not_with_it():
    before, without = _train_target_std(None)
    _, with_regularizer = _train_target_std(dict(type='VarianceCovarianceLoss'))
    assert (before > 0.3).all()
    # Without it the TGN learns the constant the decoder predicts best: collapse.
    assert (without < 0.05).all(), without
    # With it the targets keep their spread (the prediction loss, weighted 5, still pulls
    # them towards what the young decoder can predict; see the note in configs).
    assert (with_regularizer > 0.12).all(), with_regularizer
    assert (with_regularizer > 5 * without).all()


def test_decoder_and_target_generator_must_pool_the_same_rows():
    # Same number of levels, other kernels: the level-k prediction would cover other tokens
    # than the level-k target; caught at build, not as a shape error in the first step.
    cfg = dict(PAPER_GFP, neck=dict(type='HierarchicalDecoder', pool_kernels=(3, 6, 30)))
    with pytest.raises(ValueError, match=r'decoder pools \(3, 6, 30\) patch rows per level '
                                         r'but the target generator \(5, 10, 30\)'):
        MODELS.build(cfg)
