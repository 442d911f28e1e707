"""Pre-training throughput of a GFP or MAMP config, in samples/s after warm-up.

    python tools/analysis/benchmark_pretrain.py configs/gfp/gfp_ntu60_xsub.py \
        --vs configs/mamp/mamp_ntu60_xsub.py --mode pipeline --batch-size 128 --amp

Modes (``--mode``):

* ``step``: the training step alone, ``model.train_step(data, optim_wrapper)`` (the call
  MMEngine's train loop makes: data preprocessor, forward, losses, backward, AdamW
  update) on one batch made by the config's own pipeline, its inputs already on the
  device.
* ``pipeline``: the real path. MMAction2's ``PoseDataset`` over a synthetic annotation
  file of NTU-60 x-sub's size (the project's synthetic clips, tiled and cached, see
  :mod:`gfp_mmaction.analysis.benchmark.data`), the config's transforms and DataLoader
  (workers, pinned memory, persistent workers, collate), the host-to-device copy in the
  data preprocessor, then the step.
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
:func:`gfp_mmaction.analysis.flops.measure`: 2 persons, the pipeline's mask ratio) and the
achieved training TFLOP/s, counted as 3 x forward FLOPs (the backward pass costs about
twice the forward). With ``--vs`` a last line gives the ratio of the two throughputs.

``--profile-data N`` times each stage of the CPU data path on N samples instead (reading
the sample, every transform of the config's pipeline, collate, and the transfer of the
batches from a DataLoader worker to the main process) and prints microseconds per sample
and the samples/s one DataLoader worker can deliver. ``--profile-step N`` runs N steps
under ``torch.profiler`` after the timed phases and prints the most expensive operators
and the operator (kernel) launches per step.

Learning-rate schedules are not stepped (they do not change the cost of a step). The work
is :func:`gfp_mmaction.analysis.benchmark.run_benchmark`; this file parses the options.
"""
import argparse
import os.path as osp
import sys
import tempfile
from pathlib import Path

import torch
from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes and registration before any build)
from gfp_mmaction.analysis.benchmark import NTU60_XSUB_TRAIN_CLIPS, run_benchmark  # noqa: E402


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
    return run_benchmark(parse_args(argv))


if __name__ == '__main__':
    main()
