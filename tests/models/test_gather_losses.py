"""GFP's batch-statistics terms under data parallelism, with real gloo processes.

``L_var`` / ``L_cov`` are computed over the whole batch of all processes
(``VarianceCovarianceLoss(gather_distributed=True)``, the default), so 2 processes x B/2
train the same objective as 1 process x B: the same loss values on every rank, and after
DDP's gradient averaging the same gradients, of the TGN and of the whole model. The
prediction loss stays per process: DDP's average of the per-rank means equals the mean
over the whole batch when the ranks hold the same number of real persons (checked), and
is the mean of the per-rank means otherwise (checked too: the documented difference).
"""
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

import gfp_mmaction  # noqa: F401  (registers the parts, also in the spawned ranks)
from gfp_mmaction.models.losses import VarianceCovarianceLoss

from model_helpers import tiny_gfp as shared_tiny_gfp

WORLD = 2


def tiny_gfp(gather: bool = True):
    torch.manual_seed(0)
    return shared_tiny_gfp(dict(type='GFPHead', regularizer=dict(
        type='VarianceCovarianceLoss', gather_distributed=gather)))


def make_batch(real_persons):
    """Clips ``(N, 1, 2, 32, 25, 3)`` with ``real_persons[n]`` (1 or 2) actors each (a
    single actor gets a zero second body) and the visible-token index ``(2 N, 20)``."""
    g = torch.Generator().manual_seed(1)
    N = len(real_persons)
    t = torch.arange(32.)[None, :, None, None]
    clips = torch.zeros(N, 1, 2, 32, 25, 3)
    for n, persons in enumerate(real_persons):
        for m in range(persons):
            freq = 0.1 + 0.4 * torch.rand(1, generator=g)
            phase = 6.3 * torch.rand(1, 1, 25, 3, generator=g)
            clips[n, 0, m] = 0.3 * torch.sin(freq * t + phase)[0] + \
                0.05 * torch.randn(32, 25, 3, generator=g)
    index = torch.stack([torch.randperm(200, generator=g)[:20].sort().values
                         for _ in range(2 * N)])
    return clips, index


# Real persons per clip: each half (a rank's share) holds 3 real persons, or not.
EQUAL = (2, 1, 1, 2)
UNEQUAL = (2, 2, 1, 1)


def losses_and_grads(model, clips, index):
    """Loss terms (detached) and the gradient of their sum for every parameter."""
    losses = model(clips, dict(visible_index=index), mode='loss')
    model.zero_grad()
    sum(losses.values()).backward()
    module = model.module if isinstance(model, DistributedDataParallel) else model
    grads = {name: p.grad.detach().clone() for name, p in module.named_parameters()}
    return {k: v.detach().clone() for k, v in losses.items()}, grads


def _rank(rank, init_file, out_dir):
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=WORLD)
    torch.set_num_threads(1)
    try:
        results = {}
        for name, persons, gather in (('equal', EQUAL, True), ('unequal', UNEQUAL, True),
                                      ('per_rank', EQUAL, False)):
            clips, index = make_batch(persons)
            half = slice(2 * rank, 2 * rank + 2)  # this rank's 2 clips, 4 persons
            model = DistributedDataParallel(tiny_gfp(gather))
            results[name] = losses_and_grads(model, clips[half], index[2 * half.start:
                                                                       2 * half.stop])
        # Uneven shares without DDP: 3 clips on rank 0, 1 on rank 1, regulariser only.
        torch.manual_seed(2)
        levels = [torch.randn(4, n, 8) for n in (6, 3, 1)]
        weight = torch.tensor([1., 1., 0., 1.])
        share = slice(0, 3) if rank == 0 else slice(3, 4)
        results['uneven'] = VarianceCovarianceLoss()([z[share] for z in levels], weight[share])
        torch.save(results, os.path.join(out_dir, f'rank{rank}.pth'))
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The single-process references and what each of the 2 gloo ranks computed."""
    out = tmp_path_factory.mktemp('gather')
    mp.start_processes(_rank, args=(str(out / 'init'), str(out)), nprocs=WORLD,
                       start_method='spawn')
    ranks = [torch.load(out / f'rank{r}.pth', weights_only=False) for r in range(WORLD)]
    single = {name: losses_and_grads(tiny_gfp(), *make_batch(persons))
              for name, persons in (('equal', EQUAL), ('unequal', UNEQUAL))}
    return single, ranks


def assert_grads_close(got, expected, rtol=1e-4):
    """Every parameter's gradient within ``rtol`` of the largest entry of the reference."""
    assert got.keys() == expected.keys()
    scale = max(g.abs().max().item() for g in expected.values())
    worst = max(((got[k] - expected[k]).abs().max().item(), k) for k in expected)
    assert worst[0] < rtol * scale, f'max |delta| {worst[0]:.3g} at {worst[1]} (scale {scale:.3g})'
    return worst[0], scale


@pytest.mark.parametrize('case', ['equal', 'unequal'])
def test_regulariser_terms_are_the_whole_batch_values_on_every_rank(runs, case):
    single, ranks = runs
    losses, _ = single[case]
    for rank in ranks:
        for key in ('loss_var', 'loss_cov'):
            torch.testing.assert_close(rank[case][0][key], losses[key], rtol=1e-5, atol=1e-7)


def test_two_ranks_train_the_one_process_objective(runs):
    """Equal real-person counts per rank: after DDP's averaging every gradient (TGN,
    encoder, decoder) is the single process's, and the mean of the per-rank prediction
    losses is the single process's."""
    single, ranks = runs
    losses, grads = single['equal']
    mean_pred = sum(r['equal'][0]['loss_pred'] for r in ranks) / WORLD
    torch.testing.assert_close(mean_pred, losses['loss_pred'], rtol=1e-5, atol=1e-7)
    # DDP leaves the averaged gradient on every rank.
    for name, grad in ranks[0]['equal'][1].items():
        torch.testing.assert_close(grad, ranks[1]['equal'][1][name], rtol=0, atol=0)
    assert_grads_close(ranks[0]['equal'][1], grads)
    tgn = {k: v for k, v in grads.items() if k.startswith('target_generator.')}
    assert tgn and all(v.abs().max() > 0 for v in tgn.values())
    assert_grads_close({k: ranks[0]['equal'][1][k] for k in tgn}, tgn)


def test_per_rank_statistics_are_another_objective(runs):
    """gather_distributed=False: each rank's own share; the values and the gradients
    then differ from the single process's (what the default avoids)."""
    single, ranks = runs
    losses, grads = single['equal']
    for rank in ranks:
        assert abs(rank['per_rank'][0]['loss_cov'] - losses['loss_cov']) > 1e-3 * losses['loss_cov']
    with pytest.raises(AssertionError):
        assert_grads_close(ranks[0]['per_rank'][1], grads)


def test_unequal_real_person_counts_weight_the_prediction_loss_per_rank(runs):
    """4 real persons on rank 0, 2 on rank 1: DDP averages the per-rank means of the
    prediction loss, which is not the mean over the 6 real persons; the regulariser
    (gathered) stays exact."""
    single, ranks = runs
    losses, _ = single['unequal']
    mean_pred = sum(r['unequal'][0]['loss_pred'] for r in ranks) / WORLD
    # per rank: mean over its real persons; the whole batch: (4 a + 2 b) / 6
    a, b = (r['unequal'][0]['loss_pred'] for r in ranks)
    torch.testing.assert_close((4 * a + 2 * b) / 6, losses['loss_pred'], rtol=1e-5, atol=1e-7)
    assert abs(mean_pred - losses['loss_pred']) > 1e-4 * losses['loss_pred']


def test_uneven_shares_and_padded_rows_after_the_reduction(runs):
    """3 clips on one rank, 1 on the other, a padded person among them: its rows are left
    out of the whole batch's statistics whichever rank holds them."""
    _, ranks = runs
    torch.manual_seed(2)
    levels = [torch.randn(4, n, 8) for n in (6, 3, 1)]
    weight = torch.tensor([1., 1., 0., 1.])
    expected = VarianceCovarianceLoss()(levels, weight)
    real_only = VarianceCovarianceLoss()([z[weight > 0] for z in levels])
    for rank in ranks:
        for key in ('loss_var', 'loss_cov'):
            torch.testing.assert_close(rank['uneven'][key], expected[key], rtol=1e-5, atol=1e-7)
            torch.testing.assert_close(rank['uneven'][key], real_only[key], rtol=1e-5,
                                       atol=1e-7)
