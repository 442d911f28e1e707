"""Pre-training throughput of a GFP or MAMP config, in samples/s after warm-up.

    python tools/analysis/benchmark_pretrain.py configs/gfp/gfp_ntu60_xsub.py \
        --vs configs/mamp/mamp_ntu60_xsub.py --mode pipeline --batch-size 128 --amp

Modes (``--mode``):

* ``step``: the training step alone, ``model.train_step(data, optim_wrapper)`` (the call
  MMEngine's train loop makes: data preprocessor, forward, losses, backward, AdamW
  update) on one batch made by the config's own pipeline, its inputs already on the
  device.
* ``pipeline``: the real path. MMAction2's ``PoseDataset`` over a synthetic annotation
  file of NTU-60 x-sub's size and shape (made here and cached, see
  :func:`ntu_like_annotations`), the config's transforms and DataLoader (workers, pinned
  memory, persistent workers, collate), the host-to-device copy in the data
  preprocessor, then the step.
* ``data``: the pipeline without the model: DataLoader batches through the data
  preprocessor (host-to-device copy included), to see whether the data path keeps up.

Every measured phase runs warm-up iterations, then ``--iters`` timed ones between two
device synchronisations; the loop itself never synchronises. With ``--vs`` the two
configs alternate phase by phase (``--rounds`` each) in one process, so that both see the
same machine; a config's figure is its samples over its timed seconds, summed over its
phases. In pipeline mode the idle config's persistent workers keep filling their queue
(``num_workers * prefetch_factor`` batches), so by default each phase's warm-up is at
least twice that many iterations: the timed part starts from the steady state, not from a
full queue.

The table printed last gives samples/s, milliseconds per iteration, the peak device memory
allocated during the config's phases, the config's forward GFLOPs per sample (from
``tools/analysis/get_flops.py``: 2 persons, the pipeline's mask ratio) and the achieved
training TFLOP/s, counted as 3 x forward FLOPs (the backward pass costs about twice the
forward). With ``--vs`` a last line gives the ratio of the two throughputs.

``--profile-data N`` times each stage of the CPU data path on N samples instead (reading
the sample, every transform of the config's pipeline, collate, and the transfer of the
batches from a DataLoader worker to the main process) and prints microseconds per sample
and the samples/s one DataLoader worker can deliver. ``--profile-step N`` runs N steps
under ``torch.profiler`` after the timed phases and prints the most expensive operators
and the operator (kernel) launches per step.

Learning-rate schedules are not stepped (they do not change the cost of a step).
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import pickle
import platform
import sys
import tempfile
import time
from collections import OrderedDict
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import FUNCTIONS, init_default_scope
from mmengine.runner import Runner, set_random_seed
from torch.utils.data import DataLoader
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes and registration before any build)
from gfp_mmaction.testing.synthetic import generate_synthetic_ntu, per_sample_config  # noqa: E402
from gfp_mmaction.utils import atomic_write, model_config  # noqa: E402
from gfp_mmaction.utils.memory import child_pids, process_tree_pss  # noqa: E402
from get_flops import config_mask_ratio, measure  # noqa: E402
from mmaction.registry import DATASETS, MODELS  # noqa: E402

NTU60_XSUB_TRAIN_CLIPS = 40320
DEVICE_STAGE = 'preprocessor (device)'  # batched path: runs on the training device
NTU60_FIRST_MUTUAL_LABEL = 49  # labels 49-59 (A050-A060) are two-person interactions
NTU60_NUM_CLASSES = 60
GENERATOR_VERSION = 1  # bump when ntu_like_annotations changes, to invalidate caches


# --------------------------------------------------------------------------- data
def ntu_like_annotations(num_clips: int = NTU60_XSUB_TRAIN_CLIPS, max_frames: int = 300,
                         seed: int = 0, progress: bool = True) -> Dict:
    """A synthetic annotation dict of NTU-60 x-sub training's size and shape.

    NTU's 60 labels, uniform; labels 49-59 (NTU's interactions) have two persons, the
    others one, as in NTU-60. Clip lengths are log-normal with median 80 frames, clipped to
    ``[min(32, max_frames), max_frames]`` (NTU-60: 32 to 300 frames). Each person is a
    rest pose (from :func:`generate_synthetic_ntu`) about 3 m in front of the camera whose
    body and joints follow Gaussian random walks (3 mm and 4 mm per frame), so every
    token moves and motion-aware masking has real work to do. The values mean nothing;
    only the sizes, shapes, dtypes and value ranges are NTU's.

    Returns:
        ``dict(split=..., annotations=[...])`` in MMAction2's NTU pickle format, every clip
        in ``xsub_train`` and ``xview_train``; ``keypoint`` float32 ``(M, T, 25, 3)``.
    """
    if num_clips < 1 or max_frames < 8:
        raise ValueError(f'ntu_like_annotations: need num_clips >= 1 and max_frames >= 8, '
                         f'got {num_clips} and {max_frames}')
    rng = np.random.default_rng(seed)
    rest = generate_synthetic_ntu(num_classes=1, subjects=2, views=2, reps=1, min_frames=8,
                                  max_frames=8, seed=seed)['annotations'][0]['keypoint'][0, 0]
    labels = rng.integers(0, NTU60_NUM_CLASSES, num_clips)
    persons = np.where(labels >= NTU60_FIRST_MUTUAL_LABEL, 2, 1)
    lengths = np.clip(np.round(rng.lognormal(np.log(80), 0.45, num_clips)),
                      min(32, max_frames), max_frames).astype(np.int64)

    annotations, chunk = [], 1000
    bar = tqdm(total=num_clips, desc='synthetic NTU-sized clips', unit='clip',
               disable=not progress, file=sys.stderr)
    for first in range(0, num_clips, chunk):
        sel = slice(first, min(first + chunk, num_clips))
        # One random walk per person, all of the chunk's persons end to end: a cumulative
        # sum over the whole buffer minus its value where each person starts.
        seg_len = np.repeat(lengths[sel], persons[sel])  # frames of each person
        seg_start = np.concatenate([[0], np.cumsum(seg_len)[:-1]])
        steps = rng.standard_normal((int(seg_len.sum()), 26, 3), dtype=np.float32)
        steps[:, :25] *= 0.004
        steps[:, 25] *= 0.003
        walk = np.cumsum(steps, axis=0)
        walk -= np.repeat(walk[seg_start] - steps[seg_start], seg_len, axis=0)
        place = np.repeat(rng.uniform([-0.6, -0.1, -0.4], [0.6, 0.1, 0.4],
                                      (len(seg_len), 3)).astype(np.float32), seg_len, axis=0)
        joints = rest + walk[:, :25] + (walk[:, 25] + place)[:, None]
        offset = 0
        for i in range(sel.start, sel.stop):
            M, T = int(persons[i]), int(lengths[i])
            # NTU-style unique names; the label is the action code.
            k = i
            rep, k = k % 2 + 1, k // 2
            cam, k = k % 3 + 1, k // 3
            subject, setup = k % 40 + 1, k // 40 + 1
            annotations.append(dict(
                frame_dir=f'S{setup:03d}C{cam:03d}P{subject:03d}R{rep:03d}A{labels[i] + 1:03d}',
                label=int(labels[i]), total_frames=T,
                keypoint=joints[offset:offset + M * T].reshape(M, T, 25, 3)))
            offset += M * T
        bar.update(sel.stop - sel.start)
    bar.close()
    names = [a['frame_dir'] for a in annotations]
    return dict(split=dict(xsub_train=names, xsub_val=[], xview_train=list(names),
                           xview_val=[]), annotations=annotations)


def annotation_file(num_clips: int, max_frames: int, seed: int, cache_dir: str,
                    progress: bool = True) -> str:
    """Path of the cached :func:`ntu_like_annotations` pickle, written (atomically) when
    missing."""
    os.makedirs(cache_dir, exist_ok=True)
    path = osp.join(cache_dir, f'ntu_like_v{GENERATOR_VERSION}_{num_clips}clips_'
                    f'{max_frames}frames_seed{seed}.pkl')
    if osp.isfile(path):
        return path
    data = ntu_like_annotations(num_clips, max_frames, seed, progress)
    atomic_write(path, lambda f: pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL))
    return path


# --------------------------------------------------------------------------- set-up
def make_optim_wrapper(model: torch.nn.Module, optim_cfg: dict, amp: bool) -> OptimWrapper:
    """The config's optimizer wrapper; with ``amp``, what ``tools/train.py --amp`` uses:
    bf16 autocast without a loss scaler (``AutocastOptimWrapper``, CUDA or CPU)."""
    optim_cfg = copy.deepcopy(optim_cfg)
    wrapper_type = optim_cfg.get('type', 'OptimWrapper')
    if amp and wrapper_type not in ('OptimWrapper', 'AutocastOptimWrapper'):
        raise ValueError(f'--amp needs an OptimWrapper or AutocastOptimWrapper, the config '
                         f'has {wrapper_type}')
    if amp:
        optim_cfg.pop('loss_scale', None)
        optim_cfg.update(type='AutocastOptimWrapper', dtype='bfloat16')
    optimizer = optim_cfg.get('optimizer', {})
    if next(model.parameters()).is_cuda and optimizer.get('type') in ('Adam', 'AdamW'):
        optimizer.setdefault('fused', True)  # as tools/train.py does on CUDA
    return build_optim_wrapper(model, optim_cfg)


def load_config(path: str, cfg_options: Optional[dict]) -> Config:
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    for key in ('model', 'optim_wrapper', 'train_dataloader'):
        if key not in cfg:
            raise KeyError(f'{path}: the config has no "{key}"; expected a pre-training '
                           'config such as configs/gfp/gfp_ntu60_xsub.py')
    return cfg


def short_names(paths: List[str]) -> List[str]:
    """Config file stems, or relative paths where two stems are equal."""
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [osp.relpath(p) for p in paths]


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def forever(loader) -> Iterator:
    """Batches of ``loader``, epoch after epoch."""
    while True:
        yield from loader


class Subject:
    """One config under test: model, optimizer wrapper, batch source and the figures."""

    def __init__(self, name: str, cfg: Config, args, device: torch.device, ann_file: str):
        self.name, self.cfg, self.device, self.mode = name, cfg, device, args.mode
        init_default_scope(cfg.get('default_scope', 'mmaction'))
        set_random_seed(args.seed)
        model = MODELS.build(model_config(cfg))
        if not hasattr(model, 'backbone') or not hasattr(model.backbone, 'forward_visible'):
            raise TypeError(f'{name}: {type(model).__name__} is not a masked skeleton '
                            'pre-training model (GFP or MAMP)')
        # FLOPs on the CPU before the model moves: get_flops.measure feeds CPU tensors.
        self.gflops = measure(model, 2, config_mask_ratio(cfg))['total']
        self.model = model.to(device).train()
        self.optim_wrapper = make_optim_wrapper(self.model, cfg.optim_wrapper, args.amp)
        if args.compile:  # as MMEngine's runner does with cfg.compile (tools/train.py --compile)
            self.model.train_step = torch.compile(self.model.train_step)

        loader_cfg = copy.deepcopy(cfg.train_dataloader)
        loader_cfg.batch_size = self.batch_size = args.batch_size or loader_cfg.batch_size
        loader_cfg.dataset.ann_file = ann_file
        if args.mode == 'step':
            dataset = DATASETS.build(loader_cfg.dataset)
            samples = [dataset[i % len(dataset)] for i in range(self.batch_size)]
            batch = config_collate(cfg)(samples)
            self.batches = repeat(self.model.data_preprocessor.cast_data(batch))
            self.workers = 0
        else:
            if args.num_workers is not None:
                loader_cfg.num_workers = args.num_workers
            if args.resident:
                if loader_cfg.dataset.get('type') != 'SkeletonClipDataset':
                    raise ValueError(f'{name}: --resident needs the batched path '
                                     '(SkeletonClipDataset)')
                loader_cfg.dataset.device = str(device)
                loader_cfg.num_workers = 0
            self.workers = loader_cfg.get('num_workers', 0)
            if self.workers == 0:
                loader_cfg.persistent_workers = False  # DataLoader refuses it without workers
                loader_cfg.pop('prefetch_factor', None)
            if device.type != 'cuda' or args.resident:
                loader_cfg.pin_memory = False  # pinned memory only speeds copies to a GPU
            # Full batches only: a ragged last batch would recompile a compiled step.
            loader_cfg.drop_last = True
            self.loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
            if len(self.loader) == 0:
                raise ValueError(f'{name}: {len(self.loader.dataset)} clips do not fill one '
                                 f'batch of {self.batch_size}: raise --num-clips')
            self.prefetch = (loader_cfg.get('prefetch_factor') or 2) if self.workers else 0
            self.batches = forever(self.loader)
        self.samples, self.seconds, self.peak_bytes, self.last_loss = 0, 0.0, 0, math.nan
        # CPU time of this process and its workers in the timed part, and the part of it
        # spent inside the data preprocessor (data mode).
        self.host_seconds, self.preprocessor_seconds = 0.0, 0.0
        dataset = getattr(getattr(self, 'loader', None), 'dataset', None)
        self.store_mib = getattr(dataset, 'store_bytes', 0) / 2 ** 20

    def step(self, timed: bool = False) -> Optional[Dict[str, torch.Tensor]]:
        data = next(self.batches)
        if self.mode == 'data':
            start = time.process_time()
            self.model.data_preprocessor(data, True)
            if timed:
                self.preprocessor_seconds += time.process_time() - start
            return None
        return self.model.train_step(data, self.optim_wrapper)

    def run_phase(self, warmup: int, iters: int, desc: str) -> None:
        """``warmup`` untimed then ``iters`` timed steps; adds to the figures."""
        if self.device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(self.device)
        bar = tqdm(total=warmup + iters, desc=desc, unit='it', file=sys.stderr)
        for _ in range(warmup):
            self.step()
            bar.update()
        sync(self.device)
        start, host_start = time.perf_counter(), host_cpu_seconds()
        for _ in range(iters):
            outputs = self.step(timed=True)
            bar.update()
        sync(self.device)
        self.seconds += time.perf_counter() - start
        self.host_seconds += host_cpu_seconds() - host_start
        bar.close()
        self.samples += iters * self.batch_size
        if self.device.type == 'cuda':
            self.peak_bytes = max(self.peak_bytes,
                                  torch.cuda.max_memory_allocated(self.device))
        if outputs is not None:
            self.last_loss = outputs['loss'].detach().item()  # after the clock stopped
            if not math.isfinite(self.last_loss):
                raise FloatingPointError(f'{self.name}: the loss is {self.last_loss}')

    @property
    def throughput(self) -> float:
        return self.samples / self.seconds

    def memory_after_full_pass(self) -> dict:
        """Consume one full pass of the DataLoader (batches only, no preprocessing), then
        the proportional set size of this process and its workers, in MiB."""
        for _ in tqdm(self.loader, desc=f'{self.name} full pass', unit='batch',
                      file=sys.stderr):
            pass
        pss = process_tree_pss()
        self.memory = dict(pss_main_mib=pss['main'] / 2 ** 20,
                           pss_workers_mib=sum(pss['workers']) / 2 ** 20,
                           pss_total_mib=pss['total'] / 2 ** 20,
                           live_workers=len(pss['workers']))
        return self.memory

    @property
    def host_us_per_sample(self) -> float:
        """Host CPU time per sample: in data mode, of the data path outside the data
        preprocessor (reading, collating, workers, transfer: what stays on the host when
        the preprocessor runs on a GPU); in the other modes, of everything."""
        return 1e6 * (self.host_seconds - self.preprocessor_seconds) / self.samples

    @property
    def preprocessor_us_per_sample(self) -> float:
        """CPU time per sample inside the data preprocessor (data mode): on a GPU the
        launching of its kernels, on the CPU its whole computation."""
        return 1e6 * self.preprocessor_seconds / self.samples

    def record(self, args) -> dict:
        """The figures as one ``--out`` record."""
        tflops = 3 * self.gflops * self.throughput / 1e3 if self.mode != 'data' else None
        return dict(config=self.name, mode=self.mode, device=device_name(self.device),
                    batch_size=self.batch_size, amp='bf16' if args.amp else None,
                    compile=bool(args.compile), workers=self.workers,
                    resident=bool(args.resident), samples_per_s=self.throughput,
                    host_us_per_sample=self.host_us_per_sample,
                    preprocessor_us_per_sample=self.preprocessor_us_per_sample
                    if self.mode == 'data' else None,
                    peak_mem_mib=self.peak_bytes / 2 ** 20 if self.device.type == 'cuda'
                    else None, store_mib=self.store_mib or None, train_tflops=tflops,
                    fwd_gflops_per_sample=self.gflops,
                    last_loss=None if math.isnan(self.last_loss) else self.last_loss,
                    **getattr(self, 'memory', {}))


def host_cpu_seconds() -> float:
    """CPU seconds used so far by this process (all threads) and its live descendants
    (the DataLoader workers), read from ``/proc`` where there is one."""
    total = time.process_time()
    if not osp.isdir('/proc/self'):
        return total
    tick = os.sysconf('SC_CLK_TCK')
    for pid in child_pids():
        try:
            with open(f'/proc/{pid}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
    return total


# --------------------------------------------------------------------------- profiling
def config_collate(cfg: Config):
    """The config's DataLoader collate function, built as MMEngine's Runner builds it."""
    collate_cfg = copy.deepcopy(cfg.train_dataloader.get('collate_fn',
                                                         dict(type='pseudo_collate')))
    collate = collate_cfg.pop('type')
    if isinstance(collate, str):
        collate = FUNCTIONS.get(collate)
    return partial(collate, **collate_cfg)


def profile_data_path(cfg: Config, ann_file: str, num_samples: int,
                      batch_size: int) -> OrderedDict:
    """Seconds per sample of each stage of the CPU data path.

    Stages, timed in this process: ``read`` (``PoseDataset.get_data_info``: unpickling the
    stored sample), every transform of the config's pipeline, and the config's ``collate``.
    Then ``transfer``: the same samples through a one-worker ``DataLoader`` (collate, the
    worker moving every tensor of the batch into shared memory and pickling the rest, the
    main process receiving it), first batch excluded; it is the slower of the two sides.
    """
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.ann_file = ann_file
    dataset = DATASETS.build(dataset_cfg)
    collate = config_collate(cfg)
    if hasattr(dataset, '__getitems__'):
        return profile_batched_data_path(cfg, dataset, collate, num_samples, batch_size)
    transforms = dataset.pipeline.transforms
    names = [type(t).__name__ for t in transforms]
    cost = OrderedDict([('read', 0.0)] + [(n, 0.0) for n in names] + [('collate', 0.0)])
    np.random.seed(0)
    order = np.random.permutation(max(len(dataset), num_samples))[:num_samples] % len(dataset)
    packed = []
    for index in tqdm(order, desc='data path', unit='sample', file=sys.stderr):
        start = time.perf_counter()
        results = dataset.get_data_info(int(index))
        cost['read'] += time.perf_counter() - start
        for name, transform in zip(names, transforms):
            start = time.perf_counter()
            results = transform(results)
            cost[name] += time.perf_counter() - start
        packed.append(results)
    for first in range(0, len(packed), batch_size):
        start = time.perf_counter()
        collate(packed[first:first + batch_size])
        cost['collate'] += time.perf_counter() - start
    cost = OrderedDict((k, v / num_samples) for k, v in cost.items())

    # The worker's copies of these tensors are fresh (not yet in shared memory), as in
    # training, so every batch pays the full transfer.
    loader = DataLoader(packed, batch_size=batch_size, num_workers=1, collate_fn=collate)
    batches = iter(loader)
    next(batches)  # worker start-up
    start = time.perf_counter()
    received = sum(1 for _ in batches)
    cost['transfer (1 worker)'] = (time.perf_counter() - start) / (received * batch_size)
    return cost


def profile_batched_data_path(cfg: Config, dataset, collate, num_samples: int,
                              batch_size: int) -> OrderedDict:
    """Seconds per sample of each worker stage of the batched path: the batch
    (``__getitems__``), the collate, and the transfer of the made batches through a
    one-worker ``DataLoader``. The data preprocessor runs in the training process on the
    device, not in a worker: its time on this machine's device is returned under
    ``DEVICE_STAGE`` and left out of the worker's total."""
    np.random.seed(0)
    order = np.random.permutation(max(len(dataset), num_samples))[:num_samples] % len(dataset)
    preprocessor = MODELS.build(cfg.data_preprocessor)
    cost = OrderedDict([('batch (__getitems__)', 0.0), ('collate', 0.0), (DEVICE_STAGE, 0.0)])
    made = []
    for first in tqdm(range(0, num_samples, batch_size), desc='data path', unit='batch',
                      file=sys.stderr):
        start = time.perf_counter()
        batch = dataset.__getitems__(order[first:first + batch_size].tolist())
        cost['batch (__getitems__)'] += time.perf_counter() - start
        start = time.perf_counter()
        batch = collate(batch)
        cost['collate'] += time.perf_counter() - start
        start = time.perf_counter()
        preprocessor(batch, True)
        cost[DEVICE_STAGE] += time.perf_counter() - start
        made.append(batch)
    cost = OrderedDict((k, v / num_samples) for k, v in cost.items())
    # The worker sends batches made before it forked: each is moved to shared memory and
    # received, as in training.
    loader = DataLoader(made, batch_size=None, num_workers=1)
    received = iter(loader)
    next(received)  # worker start-up
    start = time.perf_counter()
    count = sum(len(b['inputs']['index']) for b in received)
    cost['transfer (1 worker)'] = (time.perf_counter() - start) / count
    return cost


def profile_steps(subject: Subject, steps: int) -> str:
    """``torch.profiler`` table of ``steps`` steps and the operator launches per step."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if subject.device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            subject.step()
        sync(subject.device)
    events = prof.key_averages()
    if subject.device.type == 'cuda':
        sort_by = 'self_device_time_total'
        launches = sum(e.count for e in events if e.key in (
            'cudaLaunchKernel', 'cudaLaunchKernelExC', 'cuLaunchKernel', 'cuLaunchKernelEx'))
        what = 'kernel launches'
    else:
        sort_by = 'self_cpu_time_total'
        launches = sum(e.count for e in events if e.key.startswith('aten::'))
        what = 'aten operator calls (nested calls included)'
    table = events.table(sort_by=sort_by, row_limit=20)
    return (f'--- {subject.name}: {steps} steps under torch.profiler ---\n{table}\n'
            f'{subject.name}: {launches / steps:.0f} {what} per step\n')


# --------------------------------------------------------------------------- output
def device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu ({platform.processor() or platform.machine()})'


def machine_line(device: torch.device) -> str:
    return (f'machine: {device_name(device)}, {os.cpu_count()} CPU cores, '
            f'torch {torch.__version__}, {torch.get_num_threads()} intra-op threads')


def significant(x: float) -> str:
    """At least four significant digits, no exponent: 0.8760, 123.5, 12345.6."""
    return f'{x:.1f}' if x >= 1000 else f'{x:#.4g}'


def results_table(subjects: List[Subject], compare_reference: bool = False) -> str:
    header = ['config', 'mode', 'samples/s', 'ms / iter', 'host us / sample',
              'preprocessor us / sample', 'peak MiB',
              'fwd GFLOPs / sample', 'train TFLOP/s', 'last loss']
    rows = []
    for s in subjects:
        peak = f'{s.peak_bytes / 2**20:.0f}' if s.device.type == 'cuda' else '-'
        tflops = 3 * s.gflops * s.throughput / 1e3 if s.mode != 'data' else math.nan
        rows.append([s.name, s.mode, significant(s.throughput),
                     f'{1e3 * s.batch_size / s.throughput:.2f}',
                     f'{s.host_us_per_sample:.1f}',
                     f'{s.preprocessor_us_per_sample:.1f}' if s.mode == 'data' else '-',
                     peak, f'{s.gflops:.3f}',
                     '-' if math.isnan(tflops) else f'{tflops:.3f}',
                     '-' if math.isnan(s.last_loss) else f'{s.last_loss:.4f}'])
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

    def line(cells):
        return '| ' + ' | '.join(c.ljust(w) if i < 2 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + ' |'

    rule = '|' + '|'.join('-' * (w + 1) + (':' if i > 1 else '-')
                          for i, w in enumerate(widths)) + '|'
    out = [line(header), rule] + [line(r) for r in rows]
    if len(subjects) == 2:
        a, b = subjects
        out.append(f'ratio {a.name} / {b.name}: {a.throughput / b.throughput:.2f}x')
        if compare_reference:
            total = [s.host_us_per_sample + s.preprocessor_us_per_sample for s in (a, b)]
            where = 'the CPU' if a.device.type == 'cpu' else 'the device (launches only)'
            out.append(f'CPU time per sample including the preprocessor, here on {where}: '
                       f'batched {total[0]:.1f} us, reference {total[1]:.1f} us '
                       f'({total[1] / total[0]:.1f}x)')
            out.append(f'host cost ratio reference/batched: '
                       f'{b.host_us_per_sample / a.host_us_per_sample:.1f}x')
    return '\n'.join(out)


# --------------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Pre-training throughput in samples/s')
    parser.add_argument('config', help='pre-training config (GFP or MAMP)')
    parser.add_argument('--vs', metavar='CONFIG_B',
                        help='a second config, alternated with the first in the same run')
    parser.add_argument('--mode', choices=('step', 'pipeline', 'data'), default='pipeline',
                        help='step: the training step on ready tensors; pipeline: dataset, '
                        'transforms, DataLoader, copy and step; data: pipeline without the '
                        'model (default: pipeline)')
    parser.add_argument('--device', choices=('cuda', 'cpu'), default=None,
                        help='default: cuda when available')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='samples per step (default: the config\'s)')
    parser.add_argument('--iters', type=int, default=100, help='timed iterations per phase')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed iterations per phase (default: 10; in pipeline and '
                        'data modes at least 2 x num_workers x prefetch_factor)')
    parser.add_argument('--rounds', type=int, default=None,
                        help='phases per config (default: 2 with --vs, else 1)')
    parser.add_argument('--amp', action='store_true',
                        help='bf16 autocast (AmpOptimWrapper on CUDA, no loss scaling)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the training step, as tools/train.py --compile')
    parser.add_argument('--resident', action='store_true',
                        help='keep the whole data set on the device (SkeletonClipDataset '
                        'device=...), no DataLoader workers')
    parser.add_argument('--compare-reference', action='store_true',
                        help='with --mode data: alternate the config\'s data path with the '
                        'per-sample numpy reference path (same settings) and compare their '
                        'host CPU cost per sample (default workers: 0, so that all of it is '
                        'in this process)')
    parser.add_argument('--memory', action='store_true',
                        help='pipeline / data mode: after timing, one full pass of the '
                        'DataLoader, then the host memory (proportional set size) of this '
                        'process and its workers, against the size of the clips')
    parser.add_argument('--out', metavar='FILE.json',
                        help='write every figure as JSON records to this file')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='DataLoader workers (default: the config\'s)')
    parser.add_argument('--num-clips', type=int, default=NTU60_XSUB_TRAIN_CLIPS,
                        help='clips of the synthetic data set (default: NTU-60 x-sub '
                        'training\'s 40320); step mode uses one batch of them')
    parser.add_argument('--max-frames', type=int, default=300,
                        help='longest synthetic clip (default: 300)')
    parser.add_argument('--data-cache', default=osp.join(tempfile.gettempdir(),
                                                         'gfp_benchmark'),
                        help='folder of the cached synthetic annotation files')
    parser.add_argument('--threads', type=int, default=None,
                        help='intra-op CPU threads of this process (torch.set_num_threads; '
                        'default: torch\'s). On a busy CPU use 1: more threads than free '
                        'cores make every operator wait for a descheduled thread')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--profile-data', type=int, metavar='N', default=0,
                        help='time each data-path stage on N samples instead of benchmarking')
    parser.add_argument('--profile-step', type=int, metavar='N', default=0,
                        help='after timing, run N steps under torch.profiler')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of CONFIG, e.g. model.backbone.depth=2')
    parser.add_argument('--vs-cfg-options', nargs='+', action=DictAction,
                        help='override settings of the --vs config')
    args = parser.parse_args(argv)
    for name in ('batch_size', 'iters', 'rounds', 'num_clips', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {value}')
    if args.warmup is not None and args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    if args.num_workers is not None and args.num_workers < 0:
        parser.error(f'--num-workers must be >= 0, got {args.num_workers}')
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: this torch build sees no CUDA device')
    if args.compare_reference:
        if args.vs or args.mode != 'data':
            parser.error('--compare-reference needs --mode data and no --vs')
        if args.num_workers is None:
            args.num_workers = 0
    if args.rounds is None:
        args.rounds = 2 if args.vs or args.compare_reference else 1
    return args


def main(argv=None) -> str:
    args = parse_args(argv)
    # MMEngine's builders log through the current logger: keep their INFO lines (one per
    # parameter from the optimizer constructor) out of the report.
    MMLogger.get_instance(f'benchmark_pretrain_{time.time_ns()}', log_level='WARNING')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    paths = [args.config] + ([args.vs] if args.vs else [])
    names = short_names(paths)
    cfgs = [load_config(args.config, args.cfg_options)]
    if args.vs:
        cfgs.append(load_config(args.vs, args.vs_cfg_options))
    if args.compare_reference:
        cfgs.append(per_sample_config(cfgs[0]))
        names.append(f'{names[0]} (per-sample reference)')

    if args.profile_data:
        ann_file = annotation_file(args.num_clips, args.max_frames, args.seed, args.data_cache)
        lines = []
        for name, cfg in zip(names, cfgs):
            batch = args.batch_size or cfg.train_dataloader.batch_size
            if args.profile_data < 2 * batch:
                raise ValueError(f'--profile-data {args.profile_data}: time at least two '
                                 f'batches of {batch} samples (or lower --batch-size)')
            cost = profile_data_path(cfg, ann_file, args.profile_data, batch)
            device_stage = cost.pop(DEVICE_STAGE, None)
            total = sum(cost.values())
            lines += [f'data path of {name}: {args.profile_data} samples, batch {batch}',
                      f'| {"stage":<24} | {"us / sample":>11} | {"share":>6} |',
                      f'|{"-" * 26}|{"-" * 12}:|{"-" * 7}:|']
            lines += [f'| {k:<24} | {1e6 * v:>11.1f} | {100 * v / total:>5.1f}% |'
                      for k, v in cost.items()]
            lines.append(f'| {"total":<24} | {1e6 * total:>11.1f} | {100:>5.1f}% |')
            lines.append(f'{name}: one worker delivers {1 / total:.0f} samples/s')
            if device_stage is not None:
                lines.append(f'{name}: the data preprocessor (augmentation and masking, in '
                             f'the training process) takes {1e6 * device_stage:.1f} us / '
                             f'sample on {device.type}, not counted above')
        report = '\n'.join([machine_line(device)] + lines)
        print(report)
        return report

    clips = args.num_clips if args.mode != 'step' else min(
        args.num_clips, max(args.batch_size or cfg.train_dataloader.batch_size for cfg in cfgs))
    ann_file = annotation_file(clips, args.max_frames, args.seed, args.data_cache)
    subjects = [Subject(n, c, args, device, ann_file) for n, c in zip(names, cfgs)]

    warmup = 10 if args.warmup is None else args.warmup
    if args.mode != 'step' and args.warmup is None:
        warmup = max([warmup] + [2 * s.workers * s.prefetch for s in subjects])
    header = (f'{machine_line(device)}\nmode {args.mode}, batch '
              f'{"/".join(str(s.batch_size) for s in subjects)}, '
              f'{"bf16 autocast" if args.amp else "fp32"}, '
              f'{"compiled" if args.compile else "eager"}, workers '
              f'{"/".join(str(s.workers) for s in subjects)}, warm-up {warmup} + '
              f'{args.iters} timed iterations x {args.rounds} round(s) per config, '
              f'data {osp.basename(ann_file)}')
    print(header, flush=True)
    for round_ in range(args.rounds):
        for s in subjects:
            s.run_phase(warmup, args.iters, f'{s.name} {round_ + 1}/{args.rounds}')
    if args.profile_step:
        for s in subjects:
            print(profile_steps(s, args.profile_step), flush=True)
    if args.memory:
        if args.mode == 'step':
            raise ValueError('--memory needs --mode pipeline or data')
        for s in subjects:
            m = s.memory_after_full_pass()
            print(f'{s.name}: host memory after a full pass, proportional set size: main '
                  f'process {m["pss_main_mib"]:.0f} MiB + {m["live_workers"]} worker(s) '
                  f'{m["pss_workers_mib"]:.0f} MiB = {m["pss_total_mib"]:.0f} MiB; the clips '
                  f'take {s.store_mib:.0f} MiB ({m["pss_total_mib"] / s.store_mib:.2f}x)',
                  flush=True)
    table = results_table(subjects, args.compare_reference)
    print(table, flush=True)
    if args.out:
        write_records(args.out, [s.record(args) for s in subjects])
    return header + '\n' + table


def write_records(path: str, records: List[dict]) -> None:
    """Append ``records`` to the JSON list in ``path`` (created if absent), atomically."""
    existing = []
    if osp.isfile(path):
        with open(path) as f:
            existing = json.load(f)
        if not isinstance(existing, list):
            raise ValueError(f'{path}: expected a JSON list of benchmark records')
    stamp = time.strftime('%Y-%m-%dT%H:%M:%S')
    command = ' '.join(['python'] + sys.argv)
    atomic_write(path, json.dumps(existing + [dict(r, time=stamp, command=command)
                                              for r in records], indent=1) + '\n')


if __name__ == '__main__':
    main()
