"""tools/analysis/benchmark_pretrain.py and gfp_mmaction.analysis.benchmark: the synthetic
NTU-sized data (the one generator, tiled), the bf16 wrapper, the table, the JSON records,
and short real runs of every mode on the CPU with tiny models."""
import importlib.util
import json
import os
import pickle
import re
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from gfp_mmaction.analysis.benchmark import (
    annotation_file,
    make_optim_wrapper,
    results_table,
    training_set,
)
from gfp_mmaction.testing.synthetic import generate_synthetic_ntu
from gfp_mmaction.testing.synthetic.bulk import bulk_synthetic_ntu, tile_annotations

GFP = 'configs/gfp/gfp_ntu60_xsub.py'
MAMP = 'configs/mamp/mamp_ntu60_xsub.py'
# Width 16, one block everywhere: a step costs milliseconds, the code path is the paper's.
TINY_ENCODER = ['model.backbone.embed_dims=16', 'model.backbone.depth=1',
                'model.backbone.num_heads=2', 'model.neck.in_dims=16',
                'model.neck.embed_dims=16', 'model.neck.num_heads=2']
TINY_GFP = TINY_ENCODER + [
    'model.neck.depths=(1,1,1)', 'model.neck.target_dims=16', 'model.neck.global_hidden=16',
    'model.target_generator.target_dims=16', 'model.target_generator.local_hidden=16',
    'model.target_generator.global_hidden=16']
TINY_MAMP = TINY_ENCODER + ['model.neck.depth=1']
ROW = re.compile(r'^\| (\S+(?: \(per-sample reference\))?) +\| (\w+) +\| +([\d.]+) \| '
                 r'+([\d.]+) \| +([\d.]+) \| +(\S+) \| +(\S+) \| +([\d.]+) \| '
                 r'+(\S+) \| +(\S+) \|$', re.M)
RATIO = re.compile(r'^ratio (\S+) / (\S+): ([\d.]+)x$', re.M)


@pytest.fixture(scope='module')
def bench(repo_root):
    path = repo_root / 'tools/analysis/benchmark_pretrain.py'
    spec = importlib.util.spec_from_file_location('benchmark_pretrain', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp('bench_cache'))


def run(bench, capsys, repo_root, cache, *args):
    """Run the tool in this process; returns (stdout, table rows, ratio match)."""
    cwd, threads = os.getcwd(), torch.get_num_threads()
    os.chdir(repo_root)
    try:
        bench.main(['--device', 'cpu', '--threads', '1', '--data-cache', cache, *args])
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)  # --threads sets it for the whole process
    out = capsys.readouterr().out
    return out, ROW.findall(out), RATIO.search(out)


def clip(value, persons=1, frames=4):
    return np.full((persons, frames, 25, 3), value, dtype=np.float32)


def test_tile_annotations_by_hand():
    names = ['S001C001P001R001A001', 'S002C001P001R001A001', 'S001C001P001R001A002',
             'S001C002P001R001A002', 'S001C001P001R001A003']
    labels = [0, 0, 1, 1, 2]
    data = dict(split=dict(xsub_train=names[:3], xsub_val=names[3:], xview_train=names[1:]),
                annotations=[dict(frame_dir=n, label=y, total_frames=4, keypoint=clip(i))
                             for i, (n, y) in enumerate(zip(names, labels))])
    tiled = tile_annotations(data, 12)
    annos = tiled['annotations']
    # Round-robin over the labels: clips 0, 2, 4 (first of labels 0, 1, 2), then 1, 3.
    # Repeat r renames setup s to r * 2 + s (2 = the largest setup of the set).
    assert [a['frame_dir'] for a in annos] == [
        'S001C001P001R001A001', 'S001C001P001R001A002', 'S001C001P001R001A003',
        'S002C001P001R001A001', 'S001C002P001R001A002',
        'S003C001P001R001A001', 'S003C001P001R001A002', 'S003C001P001R001A003',
        'S004C001P001R001A001', 'S003C002P001R001A002',
        'S005C001P001R001A001', 'S005C001P001R001A002']
    source = [0, 2, 4, 1, 3] * 2 + [0, 2]
    assert [a['label'] for a in annos] == [labels[k] for k in source]
    for anno, k in zip(annos, source):
        original = data['annotations'][k]['keypoint']
        np.testing.assert_array_equal(anno['keypoint'], original)
        assert not np.shares_memory(anno['keypoint'], original)  # a copy of its own
        assert anno['total_frames'] == 4
    # A copy is in the splits of its clip: clips 0, 1, 2 train, 3, 4 val (x-sub).
    assert tiled['split']['xsub_train'] == [a['frame_dir'] for a, k in zip(annos, source)
                                            if k < 3]
    assert tiled['split']['xsub_val'] == ['S001C001P001R001A003', 'S001C002P001R001A002',
                                          'S003C001P001R001A003', 'S003C002P001R001A002']
    assert len(tiled['split']['xview_train']) == 9  # 4 of the 5 clips: not clip 0
    assert tile_annotations(data, 2)['annotations'][1]['frame_dir'] == names[2]
    with pytest.raises(ValueError, match='num_clips must be an integer >= 1'):
        tile_annotations(data, 0)
    data['annotations'][0]['frame_dir'] = 'clip_0'
    with pytest.raises(ValueError, match="'clip_0' is not an NTU name"):
        tile_annotations(data, 3)


def test_bulk_synthetic_ntu_is_the_generator_tiled():
    options = dict(num_classes=7, subjects=2, views=2, reps=1, min_frames=32, max_frames=100)
    bulk = bulk_synthetic_ntu(60, seed=3, **options)
    base = generate_synthetic_ntu(seed=3, **options)  # 7 labels x 4 clips, label-major
    annos = bulk['annotations']
    assert [a['label'] for a in annos] == [i % 7 for i in range(60)]  # round robin
    # Clip i is the (i // 7 % 4)-th clip of label i % 7; 28 clips per repeat (setup).
    for i in (0, 6, 13, 27, 28, 59):
        k = 4 * (i % 7) + i // 7 % 4
        assert annos[i]['frame_dir'] == f'S{1 + i // 28:03d}' + base['annotations'][k][
            'frame_dir'][4:]
        np.testing.assert_array_equal(annos[i]['keypoint'], base['annotations'][k]['keypoint'])
    assert len({a['frame_dir'] for a in annos}) == 60
    # Label 6 (handshake) is the only interaction of the first 7 classes.
    assert [a['keypoint'].shape[0] for a in annos] == [2 if i % 7 == 6 else 1
                                                        for i in range(60)]
    with pytest.raises(ValueError, match='num_clips must be an integer >= 1'):
        bulk_synthetic_ntu(0)


def test_training_set_has_ntu_shapes():
    data = training_set(60, max_frames=100, seed=3)
    annos = data['annotations']
    names = [a['frame_dir'] for a in annos]
    assert len(set(names)) == 60
    assert data['split'] == dict(xsub_train=names, xsub_val=[], xview_train=names,
                                 xview_val=[])
    # All 18 synthetic classes in turn; 6, 7, 8, 15 and 17 are the two-person ones.
    assert [a['label'] for a in annos] == [i % 18 for i in range(60)]
    for a in annos:
        kp = a['keypoint']
        assert kp.dtype == np.float32 and np.isfinite(kp).all()
        persons = 2 if a['label'] in (6, 7, 8, 15, 17) else 1
        assert kp.shape == (persons, a['total_frames'], 25, 3)
        assert 32 <= a['total_frames'] <= 100
        assert a['frame_dir'].endswith(f'A{a["label"] + 1:03d}')
        # Metres in camera frame: bodies stand about 3 m away, every joint moves.
        assert 2.0 < kp[..., 2].mean() < 4.0
        assert (np.abs(np.diff(kp, axis=1)).sum(axis=(1, 3)) > 0).all()
    again = training_set(60, max_frames=100, seed=3)
    np.testing.assert_array_equal(annos[7]['keypoint'], again['annotations'][7]['keypoint'])


def test_annotation_file_is_cached_and_atomic(tmp_path):
    path = annotation_file(5, 60, 0, str(tmp_path))
    assert re.fullmatch(r'synthetic_ntu_[0-9a-f]{8}_5clips_60frames_seed0\.pkl',
                        os.path.basename(path))
    stamp = os.stat(path).st_mtime_ns
    assert annotation_file(5, 60, 0, str(tmp_path)) == path
    assert os.stat(path).st_mtime_ns == stamp  # not generated twice
    assert os.listdir(tmp_path) == [os.path.basename(path)]  # no temporary file left
    with open(path, 'rb') as f:
        assert len(pickle.load(f)['split']['xsub_train']) == 5


def test_results_table_by_hand():
    cpu = torch.device('cpu')
    a = SimpleNamespace(name='gfp', mode='step', device=cpu, throughput=200.0, batch_size=4,
                        gflops=2.0, last_loss=1.5, peak_bytes=0, host_us_per_sample=300.0,
                        preprocessor_us_per_sample=0.0)
    b = SimpleNamespace(name='mamp', mode='step', device=cpu, throughput=50.0, batch_size=4,
                        gflops=10.0, last_loss=0.25, peak_bytes=0, host_us_per_sample=900.0,
                        preprocessor_us_per_sample=0.0)
    table = results_table([a, b])
    rows = ROW.findall(table)
    # ms / iter = 1000 * 4 / 200; TFLOP/s = 3 * 2 GFLOPs * 200 / s / 1000.
    assert rows[0] == ('gfp', 'step', '200.0', '20.00', '300.0', '-', '-', '2.000', '1.200',
                       '1.5000')
    assert rows[1] == ('mamp', 'step', '50.00', '80.00', '900.0', '-', '-', '10.000', '1.500',
                       '0.2500')
    assert RATIO.search(table).groups() == ('gfp', 'mamp', '4.00')
    # data mode against the reference: host costs and the ratio line last
    a.mode = b.mode = 'data'
    a.preprocessor_us_per_sample, b.preprocessor_us_per_sample = 100.0, 20.0
    table = results_table([a, b], compare_reference=True)
    assert ROW.findall(table)[0][5] == '100.0'
    assert 'batched 400.0 us, reference 920.0 us (2.3x)' in table
    assert table.splitlines()[-1] == 'host cost ratio reference/batched: 3.0x'  # 900 / 300


def test_cpu_amp_wrapper_keeps_the_config_optimizer(repo_root):
    from gfp_mmaction.engine.optimizers import AutocastOptimWrapper
    cfg = Config.fromfile(str(repo_root / GFP))
    model = MODELS.build(cfg.model)
    wrapper = make_optim_wrapper(model, cfg.optim_wrapper, True)
    assert isinstance(wrapper, AutocastOptimWrapper) and not hasattr(wrapper, 'loss_scaler')
    decay = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups
             for p in g['params']}
    assert decay[id(model.backbone.patch_embed.bias)] == 0.0  # paramwise_cfg kept
    assert decay[id(model.backbone.patch_embed.weight)] == 0.05
    with wrapper.optim_context(model):
        out = model.backbone.patch_embed(torch.randn(2, 12))
    assert out.dtype == torch.bfloat16
    plain = make_optim_wrapper(model, cfg.optim_wrapper, False)
    assert type(plain).__name__ == 'OptimWrapper'


def check_rows(rows, mode, batch, names=('gfp_ntu60_xsub', 'mamp_ntu60_xsub')):
    assert [r[0] for r in rows] == list(names)
    for name, row_mode, per_s, ms, host, pre, peak, gflops, tflops, loss in rows:
        assert row_mode == mode and peak == '-'  # no device memory on the CPU
        assert float(per_s) > 0 and float(host) > 0
        assert (pre == '-') == (mode != 'data')
        assert float(ms) == pytest.approx(1e3 * batch / float(per_s), rel=0.02)
        if mode != 'data':
            assert float(tflops) == pytest.approx(
                3 * float(gflops) * float(per_s) / 1e3, rel=0.05, abs=2e-3)
            assert np.isfinite(float(loss)) and float(loss) > 0


def test_step_mode_vs_with_amp(bench, capsys, repo_root, cache):
    out, rows, ratio = run(bench, capsys, repo_root, cache, GFP, '--vs', MAMP, '--mode',
                           'step', '--batch-size', '2', '--iters', '2', '--warmup', '1',
                           '--amp', '--profile-step', '1', '--cfg-options', *TINY_GFP,
                           '--vs-cfg-options', *TINY_MAMP)
    assert 'mode step, batch 2/2, bf16 autocast, eager' in out
    assert 'warm-up 1 + 2 timed iterations x 2 round(s) per config' in out
    check_rows(rows, 'step', 2)
    # The FLOPs column is get_flops.measure of the same (tiny) models.
    assert float(rows[0][7]) < float(rows[1][7])  # GFP's decoder is the cheaper one
    assert ratio.groups()[:2] == ('gfp_ntu60_xsub', 'mamp_ntu60_xsub')
    assert float(ratio.group(3)) == pytest.approx(float(rows[0][2]) / float(rows[1][2]),
                                                  rel=0.02)
    assert out.rstrip().splitlines()[-1] == ratio.group(0)  # the table comes last
    for name in ('gfp_ntu60_xsub', 'mamp_ntu60_xsub'):  # --profile-step, before the table
        calls = re.search(rf'^{name}: (\d+) aten operator calls .* per step$', out, re.M)
        assert int(calls.group(1)) > 100 and calls.start() < out.index('| config')
        assert f'--- {name}: 1 steps under torch.profiler ---' in out


def test_pipeline_and_data_modes(bench, capsys, repo_root, cache):
    common = ['--batch-size', '2', '--iters', '2', '--num-clips', '8', '--max-frames', '80']
    out, rows, ratio = run(bench, capsys, repo_root, cache, GFP, '--vs', MAMP, *common,
                           '--warmup', '1', '--num-workers', '1', '--rounds', '1',
                           '--cfg-options', *TINY_GFP, '--vs-cfg-options', *TINY_MAMP)
    assert 'mode pipeline, batch 2/2, fp32, eager, workers 1/1' in out
    assert re.search(r'data synthetic_ntu_[0-9a-f]{8}_8clips_80frames_seed0\.pkl$', out, re.M)
    check_rows(rows, 'pipeline', 2)
    assert ratio is not None

    # Default warm-up: at least twice the DataLoader queue, 2 x 2 workers x prefetch 4.
    out, rows, ratio = run(bench, capsys, repo_root, cache, GFP, '--mode', 'data', *common,
                           '--num-workers', '2', '--cfg-options', *TINY_GFP,
                           'train_dataloader.prefetch_factor=4')
    assert 'workers 2, warm-up 16 + 2 timed iterations x 1 round(s)' in out
    check_rows(rows, 'data', 2, names=('gfp_ntu60_xsub', ))
    assert ratio is None and rows[0][8] == rows[0][9] == '-'


def test_compare_reference_resident_and_json_records(bench, capsys, repo_root, cache,
                                                     tmp_path):
    out_file = tmp_path / 'records.json'
    common = ['--mode', 'data', '--batch-size', '4', '--iters', '2', '--warmup', '1',
              '--num-clips', '8', '--max-frames', '80', '--out', str(out_file)]
    out, rows, ratio = run(bench, capsys, repo_root, cache, GFP, '--compare-reference',
                           *common)
    assert 'workers 0/0' in out  # the default with --compare-reference: all in this process
    check_rows(rows, 'data', 4, names=('gfp_ntu60_xsub', 'gfp_ntu60_xsub (per-sample reference)'))
    last = out.rstrip().splitlines()[-1]
    match = re.fullmatch(r'host cost ratio reference/batched: ([\d.]+)x', last)
    assert match and float(match.group(1)) == pytest.approx(
        float(rows[1][4]) / float(rows[0][4]), rel=0.05, abs=0.06)
    out, rows, _ = run(bench, capsys, repo_root, cache, GFP, '--resident', *common)
    records = json.loads(out_file.read_text())
    assert [(r['config'], r['resident']) for r in records] == [
        ('gfp_ntu60_xsub', False), ('gfp_ntu60_xsub (per-sample reference)', False),
        ('gfp_ntu60_xsub', True)]
    for record in records:
        assert {'config', 'mode', 'device', 'batch_size', 'amp', 'compile', 'samples_per_s',
                'host_us_per_sample', 'peak_mem_mib', 'train_tflops', 'command'} <= set(record)
        assert record['mode'] == 'data' and record['batch_size'] == 4
        assert record['samples_per_s'] > 0 and record['device'].startswith('cpu')
    assert records[2]['store_mib'] > 0  # the resident store's size


def test_memory_after_a_full_pass(bench, capsys, repo_root, cache, tmp_path):
    out_file = tmp_path / 'records.json'
    # A child this process had before (as earlier tests leave: multiprocessing's resource
    # tracker, persistent workers) is not one of the loader's workers.
    stray = subprocess.Popen(['sleep', '60'])
    try:
        out, rows, _ = run(bench, capsys, repo_root, cache, GFP, '--mode', 'data', '--memory',
                           '--batch-size', '4', '--iters', '1', '--warmup', '1',
                           '--num-clips', '8', '--max-frames', '80', '--num-workers', '1',
                           '--out', str(out_file))
    finally:
        stray.kill()
        stray.wait()
    line = re.search(r'^gfp_ntu60_xsub: host memory after a full pass, proportional set size: '
                     r'main process (\d+) MiB \+ 1 worker\(s\) (\d+) MiB = (\d+) MiB; the '
                     r'clips take (\d+) MiB \(([\d.]+)x\)$', out, re.M)
    assert line, out
    main, workers, total = (int(line.group(i)) for i in (1, 2, 3))
    assert main > 50 and workers > 0 and abs(main + workers - total) <= 1
    record = json.loads(out_file.read_text())[0]
    assert record['live_workers'] == 1
    assert record['pss_total_mib'] == pytest.approx(
        record['pss_main_mib'] + record['pss_workers_mib'])

def test_profile_data_lists_every_stage(bench, capsys, repo_root, cache):
    out, _, _ = run(bench, capsys, repo_root, cache, GFP, '--profile-data', '6',
                    '--batch-size', '3', '--num-clips', '8', '--max-frames', '80')
    stages = re.findall(r'^\| (\S.*?) +\| +([\d.]+) \| +([\d.]+)% \|$', out, re.M)
    names = [s[0] for s in stages]
    assert names == ['batch (__getitems__)', 'collate', 'transfer (1 worker)', 'total']
    device = re.search(r'the data preprocessor .* takes ([\d.]+) us / sample on cpu', out)
    assert float(device.group(1)) > 0
    costs = {n: float(us) for n, us, _ in stages}
    assert all(costs[n] > 0 for n in names if n != 'collate')
    assert costs['total'] == pytest.approx(sum(costs[n] for n in names[:-1]), abs=0.5)
    per_worker = float(re.search(r'one worker delivers (\d+) samples/s', out).group(1))
    assert per_worker == pytest.approx(1e6 / costs['total'], rel=0.01, abs=1)


def test_clear_errors(bench, capsys, repo_root, cache):
    with pytest.raises(ValueError, match='8 clips do not fill one batch of 16'):
        run(bench, capsys, repo_root, cache, GFP, '--batch-size', '16', '--num-workers', '0',
            '--num-clips', '8', '--max-frames', '80', '--cfg-options', *TINY_GFP)
    with pytest.raises(SystemExit):
        bench.parse_args([GFP, '--iters', '0'])
    assert '--iters must be >= 1' in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            bench.parse_args([GFP, '--device', 'cuda'])
        assert 'sees no CUDA device' in capsys.readouterr().err
