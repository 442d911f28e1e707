"""The benchmark's profilers: each stage of the CPU data path (``--profile-data``) and the
operators of the training step under ``torch.profiler`` (``--profile-step``)."""
import copy
import sys
import time
from collections import OrderedDict

import numpy as np
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader
from tqdm import tqdm

from .build import config_collate
from .subject import Subject, sync

__all__ = ['DEVICE_STAGE', 'profile_data_path', 'profile_batched_data_path', 'profile_steps']

DEVICE_STAGE = 'preprocessor (device)'  # batched path: runs on the training device


def profile_data_path(cfg: Config, ann_file: str, num_samples: int,
                      batch_size: int) -> OrderedDict:
    """Seconds per sample of each stage of the CPU data path.

    Stages, timed in this process: ``read`` (``PoseDataset.get_data_info``: unpickling the
    stored sample), every transform of the config's pipeline, and the config's ``collate``.
    Then ``transfer``: the same samples through a one-worker ``DataLoader`` (collate, the
    worker moving every tensor of the batch into shared memory and pickling the rest, the
    main process receiving it), first batch excluded; it is the slower of the two sides.
    A dataset with ``__getitems__`` (the batched path) is timed by
    :func:`profile_batched_data_path` instead.

    Args:
        cfg (Config): a pre-training config.
        ann_file (str): the annotation file its training dataset reads.
        num_samples (int): samples timed (at least two batches).
        batch_size (int): samples per batch.

    Returns:
        OrderedDict: seconds per sample by stage name, in the order of the path.
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
    :data:`DEVICE_STAGE` and left out of the worker's total.

    Args:
        cfg (Config): a pre-training config (its ``data_preprocessor`` is built).
        dataset (SkeletonClipDataset): the built training dataset.
        collate (Callable): the config's collate function.
        num_samples (int): samples timed.
        batch_size (int): samples per batch.

    Returns:
        OrderedDict: seconds per sample by stage name.
    """
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
    """``torch.profiler`` table of ``steps`` steps and the operator launches per step.

    Args:
        subject (Subject): the config under test.
        steps (int): steps profiled.

    Returns:
        str: the report, the 20 most expensive operators first.
    """
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
