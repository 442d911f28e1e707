"""The benchmark from parsed options to the printed report
(``tools/analysis/benchmark_pretrain.py``'s work)."""
import os.path as osp
import time

import torch
from mmengine.logging import MMLogger

from ...datasets import per_sample_config
from .build import load_config, short_names
from .data import annotation_file
from .profiling import DEVICE_STAGE, profile_data_path, profile_steps
from .report import data_path_lines, machine_line, memory_line, results_table, write_records
from .subject import Subject

__all__ = ['run_benchmark', 'run_profile_data']


def run_profile_data(args, names, cfgs, device: torch.device) -> str:
    """``--profile-data``: time each data-path stage of every config and print the tables.

    Args:
        args (argparse.Namespace): the benchmark's options.
        names (list[str]): the configs' names.
        cfgs (list[Config]): the configs.
        device (torch.device): where the data preprocessor runs.

    Returns:
        str: the printed report.
    """
    ann_file = annotation_file(args.num_clips, args.max_frames, args.seed, args.data_cache)
    lines = []
    for name, cfg in zip(names, cfgs):
        batch = args.batch_size or cfg.train_dataloader.batch_size
        if args.profile_data < 2 * batch:
            raise ValueError(f'--profile-data {args.profile_data}: time at least two '
                             f'batches of {batch} samples (or lower --batch-size)')
        cost = profile_data_path(cfg, ann_file, args.profile_data, batch)
        device_stage = cost.pop(DEVICE_STAGE, None)
        lines += data_path_lines(name, cost, args.profile_data, batch, device_stage,
                                 device.type)
    report = '\n'.join([machine_line(device)] + lines)
    print(report)
    return report


def run_benchmark(args) -> str:
    """Build every config's subject, run the timed phases, print and record the figures.

    Args:
        args (argparse.Namespace): the options ``tools/analysis/benchmark_pretrain.py``
            parses (``config``, ``vs``, ``mode``, ``device``, ``iters``, ``warmup``,
            ``rounds``, ...).

    Returns:
        str: the header and the results table (``--profile-data``: its report).
    """
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
        return run_profile_data(args, names, cfgs, device)

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
            print(memory_line(s.name, s.memory_after_full_pass(), s.store_mib), flush=True)
    table = results_table(subjects, args.compare_reference)
    print(table, flush=True)
    if args.out:
        write_records(args.out, [s.record(args) for s in subjects])
    return header + '\n' + table
