"""What the benchmark prints and records: the machine line, the results table, the data
path's stage table, the memory line and the ``--out`` JSON records."""
import json
import math
import os
import os.path as osp
import platform
import sys
import time
from typing import Dict, List, Optional, Sequence

import torch

from ...utils.atomic_io import atomic_write

__all__ = ['device_name', 'machine_line', 'significant', 'results_table', 'data_path_lines',
           'memory_line', 'write_records']


def device_name(device: torch.device) -> str:
    """The GPU's name, or ``cpu (<processor>)``."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu ({platform.processor() or platform.machine()})'


def machine_line(device: torch.device) -> str:
    """The device, CPU cores, torch version and intra-op threads, in one line."""
    return (f'machine: {device_name(device)}, {os.cpu_count()} CPU cores, '
            f'torch {torch.__version__}, {torch.get_num_threads()} intra-op threads')


def significant(x: float) -> str:
    """At least four significant digits, no exponent: 0.8760, 123.5, 12345.6."""
    return f'{x:.1f}' if x >= 1000 else f'{x:#.4g}'


def results_table(subjects: Sequence, compare_reference: bool = False) -> str:
    """The results as a Markdown table, with the ratio lines of two configs.

    Args:
        subjects (Sequence[Subject]): the configs under test (anything with a
            :class:`~.subject.Subject`'s figures).
        compare_reference (bool): the second config is the first's per-sample reference
            path: add the CPU cost lines.

    Returns:
        str: the table, then with two configs ``ratio A / B: X.YYx`` (and with
        ``compare_reference`` the CPU time per sample and the host cost ratio, last).
    """
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


def data_path_lines(name: str, cost: Dict[str, float], num_samples: int, batch: int,
                    device_stage: Optional[float], device_type: str) -> List[str]:
    """``--profile-data``'s report of one config: a table of the worker's stages, the
    samples/s one worker delivers, and the data preprocessor's time.

    Args:
        name (str): the config's name.
        cost (dict[str, float]): seconds per sample of each worker stage.
        num_samples (int): samples timed.
        batch (int): samples per batch.
        device_stage (float, optional): seconds per sample of the data preprocessor on
            the training device (the batched path), not in the worker's total.
        device_type (str): the training device's type.

    Returns:
        list[str]: the lines.
    """
    total = sum(cost.values())
    lines = [f'data path of {name}: {num_samples} samples, batch {batch}',
             f'| {"stage":<24} | {"us / sample":>11} | {"share":>6} |',
             f'|{"-" * 26}|{"-" * 12}:|{"-" * 7}:|']
    lines += [f'| {k:<24} | {1e6 * v:>11.1f} | {100 * v / total:>5.1f}% |'
              for k, v in cost.items()]
    lines.append(f'| {"total":<24} | {1e6 * total:>11.1f} | {100:>5.1f}% |')
    lines.append(f'{name}: one worker delivers {1 / total:.0f} samples/s')
    if device_stage is not None:
        lines.append(f'{name}: the data preprocessor (augmentation and masking, in '
                     f'the training process) takes {1e6 * device_stage:.1f} us / '
                     f'sample on {device_type}, not counted above')
    return lines


def memory_line(name: str, memory: Dict[str, float], store_mib: float) -> str:
    """``--memory``'s line of one config.

    Args:
        name (str): the config's name.
        memory (dict): :meth:`~.subject.Subject.memory_after_full_pass`'s figures.
        store_mib (float): MiB of the clips.

    Returns:
        str: the line.
    """
    m = memory
    return (f'{name}: host memory after a full pass, proportional set size: main '
            f'process {m["pss_main_mib"]:.0f} MiB + {m["live_workers"]} worker(s) '
            f'{m["pss_workers_mib"]:.0f} MiB = {m["pss_total_mib"]:.0f} MiB; the clips '
            f'take {store_mib:.0f} MiB ({m["pss_total_mib"] / store_mib:.2f}x)')


def write_records(path: str, records: List[dict], command: Optional[str] = None) -> None:
    """Append ``records`` to the JSON list in ``path`` (created if absent), atomically.

    Args:
        path (str): the ``--out`` file.
        records (list[dict]): the figures, one record per config.
        command (str, optional): the command line stored in every record (default: this
            process's, ``python`` + ``sys.argv``).
    """
    existing = []
    if osp.isfile(path):
        with open(path) as f:
            existing = json.load(f)
        if not isinstance(existing, list):
            raise ValueError(f'{path}: expected a JSON list of benchmark records')
    stamp = time.strftime('%Y-%m-%dT%H:%M:%S')
    if command is None:
        command = ' '.join(['python'] + sys.argv)
    atomic_write(path, json.dumps(existing + [dict(r, time=stamp, command=command)
                                              for r in records], indent=1) + '\n')
