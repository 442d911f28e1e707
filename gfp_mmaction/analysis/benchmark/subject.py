"""One config under test: its model, optimizer wrapper, batch source, timed phases and
figures."""
import copy
import math
import os
import os.path as osp
import sys
import time
from itertools import repeat
from typing import Dict, Iterator, Optional

import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, set_random_seed
from tqdm import tqdm

from ...utils.config_checks import model_config
from ...utils.memory import child_pids, process_tree_pss
from ..flops import config_mask_ratio, measure
from .build import config_collate, make_optim_wrapper
from .report import device_name

__all__ = ['Subject', 'sync', 'forever', 'host_cpu_seconds']


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def forever(loader) -> Iterator:
    """Batches of ``loader``, epoch after epoch."""
    while True:
        yield from loader


def host_cpu_seconds() -> float:
    """CPU seconds used so far by this process (all threads) and its live descendants
    (the DataLoader workers), read from ``/proc`` where there is one.

    Returns:
        float: seconds.
    """
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


class Subject:
    """One config under test: model, optimizer wrapper, batch source and the figures.

    Args:
        name (str): the config's name in the table.
        cfg (Config): a pre-training config (GFP or MAMP).
        args (argparse.Namespace): the benchmark's options (``mode``, ``seed``, ``amp``,
            ``compile``, ``batch_size``, ``num_workers``, ``resident``), as
            ``tools/analysis/benchmark_pretrain.py`` parses them.
        device (torch.device): the training device.
        ann_file (str): the annotation file the config's training dataset reads.
    """

    def __init__(self, name: str, cfg: Config, args, device: torch.device, ann_file: str):
        self.name, self.cfg, self.device, self.mode = name, cfg, device, args.mode
        init_default_scope(cfg.get('default_scope', 'mmaction'))
        set_random_seed(args.seed)
        model = MODELS.build(model_config(cfg))
        if not hasattr(model, 'backbone') or not hasattr(model.backbone, 'forward_visible'):
            raise TypeError(f'{name}: {type(model).__name__} is not a masked skeleton '
                            'pre-training model (GFP or MAMP)')
        # FLOPs on the CPU before the model moves: flops.measure feeds CPU tensors.
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
            # Descendants of this process before the loader starts any worker (a
            # multiprocessing resource tracker, another subject's workers): not its own.
            self.other_processes = child_pids()
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
        """One iteration: the training step, or in data mode the data preprocessor alone.

        Args:
            timed (bool): count the data preprocessor's CPU time (data mode). Defaults
                to False.

        Returns:
            dict | None: the step's outputs (losses); None in data mode.
        """
        data = next(self.batches)
        if self.mode == 'data':
            start = time.process_time()
            self.model.data_preprocessor(data, True)
            if timed:
                self.preprocessor_seconds += time.process_time() - start
            return None
        return self.model.train_step(data, self.optim_wrapper)

    def run_phase(self, warmup: int, iters: int, desc: str) -> None:
        """``warmup`` untimed then ``iters`` timed steps; adds to the figures.

        Args:
            warmup (int): untimed iterations.
            iters (int): timed iterations, between two device synchronisations.
            desc (str): the progress bar's title.
        """
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
        """Samples per second over the timed iterations of every phase."""
        return self.samples / self.seconds

    def memory_after_full_pass(self) -> dict:
        """Consume one full pass of the DataLoader (batches only, no preprocessing), then
        the proportional set size of this process and its workers, in MiB.

        Returns:
            dict: ``pss_main_mib``, ``pss_workers_mib``, ``pss_total_mib`` and
            ``live_workers`` (also kept for :meth:`record`).
        """
        # Every batch of the pass is taken, but the iterator is not run to its end before
        # the measurement: a DataLoader shuts its (non-persistent) workers down at the end,
        # and whether they were still there would depend on timing.
        batches = iter(self.loader)
        for _ in tqdm(range(len(self.loader)), desc=f'{self.name} full pass', unit='batch',
                      file=sys.stderr):
            next(batches)
        pss = process_tree_pss(exclude=self.other_processes)  # this loader's workers only
        del batches
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
        """The figures as one ``--out`` record.

        Args:
            args (argparse.Namespace): the benchmark's options (``amp``, ``compile``,
                ``resident``).

        Returns:
            dict: JSON-serialisable figures.
        """
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
