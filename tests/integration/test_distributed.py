"""Data-parallel training through the launch scripts, on the CPU (gloo), for real.

``tools/dist_train.sh`` (torchrun) and ``tools/slurm_train.sh`` (srun + MMEngine's
``slurm`` launcher) start real processes that train on the embedded synthetic dataset.
Slurm itself is replaced by stand-in ``srun`` / ``scontrol`` executables, first on
``PATH``, that start the tasks locally with the SLURM_* variables a cluster sets.

Equivalence of 2 processes x batch B with 1 process x batch 2B (MAMP, AdamW):

- data: ``DefaultSampler`` with one seed gives every rank the same permutation and rank
  ``r`` the entries ``r, r + 2, ...``, so each step the two ranks together see exactly
  the 2B samples that the single process sees;
- augmentation: the batched path (``SkeletonPretrainPreprocessor``) keys every draw on
  ``(seed, epoch, sample index)``, so crop, rotation and motion-aware masking are
  functions of the sample alone, whichever rank and batch position it lands in;
- loss: MAMP's loss is a ratio of sums over masked tokens of real persons. Every clip
  here has one actor (the interaction classes are left out) and the mask ratio is
  fixed, so every rank has the same denominator and the mean of the rank losses, which
  DDP's gradient averaging differentiates, is the global loss. (GFP's variance /
  covariance regulariser uses batch statistics, which it reduces over the processes:
  tests/models/test_gather_losses.py.)

What remains are float32 summation-order differences (per-rank partial sums, gloo's
all-reduce). Adam divides each gradient by its own running magnitude, so where a
gradient is zero up to rounding the rounding noise becomes a full lr-sized step: the
attention key biases, on which softmax attention does not depend at all. The test
bounds every other parameter to 1e-5 (training moves them by ~5e-3) and checks that
the two models compute the same loss.
"""
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmaction.registry import HOOKS
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from robustness_helpers import tiny_gfp_config

REPO = Path(__file__).resolve().parents[2]
# The training subprocesses import the test modules of this folder (custom_imports) and
# the helper modules of tests/ (robustness_helpers) by name.
PYTHONPATH = os.pathsep.join(str(p) for p in (Path(__file__).resolve().parent, REPO / 'tests'))
PYTHON = sys.executable
RUN_TIMEOUT = 180


# ---------------------------------------------------------------- imported by the runs
# The training subprocesses import this module through their config's custom_imports
# (tests/integration/ on PYTHONPATH) to get the helper below.
@HOOKS.register_module(force=True)
class DumpRankStateHook(Hook):
    """Each rank writes ``rank{r}.pth`` to the work dir: its parameters before and after
    training and the sample indices its sampler gave it in every epoch."""

    priority = 'LOW'  # before_train_epoch after DistSamplerSeedHook's set_epoch

    def before_train(self, runner):
        self.init = self._params(runner)
        self.indices = []

    def before_train_epoch(self, runner):
        self.indices.append([int(i) for i in runner.train_dataloader.sampler])

    def after_train(self, runner):
        rank, world_size = get_dist_info()
        torch.save(dict(init=self.init, final=self._params(runner), indices=self.indices,
                        world_size=world_size),
                   os.path.join(runner.work_dir, f'rank{rank}.pth'))

    @staticmethod
    def _params(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------- test helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHON=PYTHON,
               PYTHONPATH=PYTHONPATH, PYTHONUNBUFFERED='1')
    env.pop('MASTER_ADDR', None)
    env.pop('MASTER_PORT', None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


_STARTED = []  # process groups started by start(), ended by the fixture below


def start(cmd, env, log_path: Path) -> subprocess.Popen:
    """Start ``cmd`` in the repository root as a new process group, output to a file."""
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _STARTED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def end_started_processes():
    """A failed assertion must not leave training processes running."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def finish(proc: subprocess.Popen, log_path: Path, timeout: float = RUN_TIMEOUT) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f'{proc.args} timed out; output:\n{log_path.read_text()[-4000:]}')
    output = log_path.read_text()
    if proc.returncode != 0:
        # The lines that say why, last, where a shortened report still shows them.
        causes = [line for line in output.splitlines() if any(
            word in line for word in ('Error', 'error', 'terminate', 'what()', 'Signal'))]
        pytest.fail(f'{proc.args} failed ({proc.returncode}):\n{output[-6000:]}\n'
                    'lines naming the cause:\n' + '\n'.join(causes[-20:]))
    return output


def train_log(work_dir: Path) -> str:
    logs = sorted(work_dir.glob('*/*.log'))
    assert logs, f'no training log under {work_dir}'
    return logs[-1].read_text()


@pytest.fixture(scope='module')
def single_actor_data(tmp_path_factory) -> Path:
    """16 training clips (xsub_train), all single-actor: 8 classes x 1 subject x 2 views."""
    import pickle

    from gfp_mmaction.testing.synthetic import generate_synthetic_ntu
    data = generate_synthetic_ntu(num_classes=11, subjects=2, views=2, reps=1, seed=0)
    single = sorted({a['label'] for a in data['annotations'] if a['keypoint'].shape[0] == 1})
    assert len(single) == 8
    relabel = {old: new for new, old in enumerate(single)}
    annotations = [dict(a, label=relabel[a['label']]) for a in data['annotations']
                   if a['label'] in relabel]
    kept = {a['frame_dir'] for a in annotations}
    split = {name: [n for n in names if n in kept] for name, names in data['split'].items()}
    path = tmp_path_factory.mktemp('data') / 'synthetic_single_actor.pkl'
    path.write_bytes(pickle.dumps(dict(split=split, annotations=annotations)))
    assert len(split['xsub_train']) == 16
    assert all(a['keypoint'].shape[0] == 1 for a in annotations)
    return path


# Tiny MAMP: 48 frames -> 12 x 25 tokens, width 32, one block each side. Constant lr:
# AdamW lr 0.02 for batch 128, scaled by --auto-scale-lr to 0.02 * 4 / 128 = 6.25e-4.
MAMP_CONFIG = """
_base_ = '{repo}/configs/mamp/mamp_ntu60_xsub.py'
custom_imports = dict(imports=['gfp_mmaction', 'test_distributed'], allow_failed_imports=False)
model = dict(
    backbone=dict(embed_dims=32, depth=1, num_heads=2, num_frames=48),
    neck=dict(in_dims=32, embed_dims=32, depth=1, num_heads=2, num_rows=12))
data_preprocessor = dict(clip_len=48, min_frames=16, seed=7)
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(ann_file='{ann_file}'))
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = []
train_cfg = dict(max_epochs=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
custom_hooks = [dict(type='DumpRankStateHook')]
"""


def test_dist_train_two_cpu_processes_equal_one_process_with_the_total_batch(
        tmp_path, single_actor_data):
    config = tmp_path / 'mamp_tiny.py'
    config.write_text(MAMP_CONFIG.format(repo=REPO, ann_file=single_actor_data))
    common = ['--seed', '0', '--deterministic', '--auto-scale-lr', '--cfg-options']
    # Both runs at once: three processes on the machine's cores.
    dist = start(['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir',
                  str(tmp_path / 'dist'), *common, 'train_dataloader.batch_size=2'],
                 run_env(PORT=free_port()), tmp_path / 'dist.out')
    single = start([PYTHON, 'tools/train.py', str(config), '--work-dir', str(tmp_path / 'single'),
                    *common, 'train_dataloader.batch_size=4'], run_env(), tmp_path / 'single.out')
    finish(dist, tmp_path / 'dist.out')
    finish(single, tmp_path / 'single.out')

    dist_log, single_log = train_log(tmp_path / 'dist'), train_log(tmp_path / 'single')
    # MMEngine reports the world size as "GPU number", also for CPU processes.
    assert 'Distributed training: True' in dist_log and 'GPU number: 2' in dist_log
    assert 'Distributed training: False' in single_log and 'GPU number: 1' in single_log
    for log in (dist_log, single_log):  # lr follows the real total batch, 2 x 2 = 1 x 4
        assert 'based on batch size of 128 and the current batch size is 4' in log
        assert 'Scaling the original LR by 0.03125' in log
        assert log.count('Epoch(train) [2][4/4]') == 1  # 16 clips / total batch 4

    rank0 = torch.load(tmp_path / 'dist' / 'rank0.pth', weights_only=False)
    rank1 = torch.load(tmp_path / 'dist' / 'rank1.pth', weights_only=False)
    ref = torch.load(tmp_path / 'single' / 'rank0.pth', weights_only=False)
    assert rank0['world_size'] == rank1['world_size'] == 2 and ref['world_size'] == 1
    # Data parallel: each epoch the ranks got disjoint halves of one permutation, and
    # together the single process's order, step by step.
    for epoch, (i0, i1, iref) in enumerate(zip(rank0['indices'], rank1['indices'],
                                               ref['indices'])):
        assert len(i0) == len(i1) == 8 and not set(i0) & set(i1), epoch
        assert sorted(i0 + i1) == list(range(16))
        assert i0 == iref[0::2] and i1 == iref[1::2]
    assert rank0['indices'][0] != rank0['indices'][1]  # reshuffled per epoch

    # One model: identical parameters on both ranks, bit for bit.
    for name, value in rank0['final'].items():
        assert torch.equal(value, rank1['final'][name]), name
    assert all(torch.equal(rank0['init'][k], ref['init'][k]) for k in ref['init'])
    # ... and the single-process model with the total batch, up to float rounding:
    # every parameter but the attention key biases within 1e-5 while training moved
    # weights by ~5e-3 (measured: 99.9 % of the entries within 1.5e-8, the largest
    # 2e-6, on a hidden unit that barely fires: tiny gradients, relative rounding
    # error blown up by Adam's normalisation) ...
    key_bias = {k: slice(32, 64) for k in ref['final'] if k.endswith('attn.qkv.bias')}
    diff, moved = 0.0, 0.0
    for name, value in ref['final'].items():
        delta = (rank0['final'][name] - value).abs()
        if name in key_bias:
            delta[key_bias[name]] = 0
        diff = max(diff, delta.max().item())
        moved = max(moved, (value - ref['init'][name]).abs().max().item())
    assert moved > 4e-3  # 8 Adam steps of lr 6.25e-4
    assert diff < 1e-5, f'2-process vs 1-process max |delta| = {diff:.3g} (moved {moved:.3g})'
    # ... and the key biases may differ by up to Adam's step size: the model does not
    # depend on them (adding one vector to every key shifts a query's logits by one
    # constant, which softmax cancels), so their gradient is rounding noise that Adam
    # normalises into lr-sized steps. The two models compute the same function:
    loss_dist, loss_ref, loss_init = mamp_losses(
        config, [rank0['final'], ref['final'], ref['init']])
    assert abs(loss_dist - loss_ref) < 1e-6 * loss_ref, (loss_dist, loss_ref)
    assert abs(loss_init - loss_ref) > 1e-3 * loss_ref  # the check can tell models apart


def mamp_losses(config: Path, states: list) -> list:
    """The MAMP loss of each parameter set on one fixed random batch."""
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from mmengine.config import Config

    from gfp_mmaction.utils import model_config
    model = MODELS.build(model_config(Config.fromfile(str(config)))).eval()
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(4, 1, 2, 48, 25, 3, generator=generator) * 0.3
    samples = []
    for _ in range(4):
        order = torch.stack([torch.randperm(300, generator=generator) for _ in range(2)])
        sample = ActionDataSample()
        sample.set_field((order >= 30).numpy()[None], 'token_mask')  # (1, M, L), 30 visible
        samples.append(sample)
    losses = []
    for state in states:
        model.load_state_dict(state)
        with torch.no_grad():  # the per-sample path's masks, given directly
            losses.append(model(inputs, samples, mode='loss')['loss_pred'].item())
    return losses


# ------------------------------------------------------------------------------ Slurm
SRUN = '''#!{python}
"""Stand-in srun: starts the job step's tasks on this machine with the SLURM_*
variables that srun sets on a cluster, and records what it was asked for."""
import json, math, os, subprocess, sys, time

VALUED_SHORT = ('-p', '-n', '-N', '-c', '-t', '-J')  # short options that take a value
argv, opts, i = sys.argv[1:], {{}}, 0
while i < len(argv) and argv[i].startswith('-'):
    if '=' in argv[i]:
        key, value = argv[i].split('=', 1)
    elif argv[i] in VALUED_SHORT:
        key, value = argv[i], argv[i + 1]
        i += 1
    else:
        key, value = argv[i], True  # a flag
    opts[key.lstrip('-')] = value
    i += 1
command = argv[i:]
ntasks = int(opts.get('ntasks', opts.get('n', 1)))
per_node = int(opts.get('ntasks-per-node', ntasks))
nodes = ['127.0.0.%d' % (n + 1) for n in range(math.ceil(ntasks / per_node))]
with open(os.environ['STAND_IN_LOG'], 'a') as f:
    f.write(json.dumps(dict(tool='srun', opts=opts, command=command)) + '\\n')
procs = []
for rank in range(ntasks):
    env = dict(os.environ,
               SLURM_JOB_ID='4242', SLURM_JOBID='4242', SLURM_STEP_ID='0',
               SLURM_JOB_NAME=opts.get('job-name', ''), SLURM_JOB_PARTITION=opts.get('p', ''),
               SLURM_NTASKS=str(ntasks), SLURM_NPROCS=str(ntasks),
               SLURM_NNODES=str(len(nodes)), SLURM_JOB_NUM_NODES=str(len(nodes)),
               SLURM_NODELIST=','.join(nodes), SLURM_JOB_NODELIST=','.join(nodes),
               SLURM_STEP_NODELIST=','.join(nodes),
               SLURM_TASKS_PER_NODE='%d(x%d)' % (per_node, len(nodes)),
               SLURM_CPUS_PER_TASK=opts.get('cpus-per-task', '1'),
               SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank % per_node),
               SLURM_NODEID=str(rank // per_node), SLURMD_NODENAME=nodes[rank // per_node])
    procs.append(subprocess.Popen(command, env=env))
# --kill-on-bad-exit=1: the first failing task ends the step.
while any(p.poll() is None for p in procs):
    if opts.get('kill-on-bad-exit') == '1' and any(p.poll() not in (None, 0) for p in procs):
        for p in procs:
            if p.poll() is None:
                p.kill()
    time.sleep(0.05)
sys.exit(max(abs(p.returncode) for p in procs))
'''

SCONTROL = '''#!{python}
"""Stand-in scontrol: `scontrol show hostname[s] LIST` prints one host per line."""
import json, os, signal, sys

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head -n1`: end quietly, like the real one
with open(os.environ['STAND_IN_LOG'], 'a') as f:
    f.write(json.dumps(dict(tool='scontrol', argv=sys.argv[1:])) + '\\n')
if sys.argv[1:3] not in (['show', 'hostname'], ['show', 'hostnames']) or len(sys.argv) != 4:
    sys.exit('stand-in scontrol only knows "show hostname LIST"')
sys.stdout.write(''.join(host + '\\n' for host in sys.argv[3].split(',')))
'''

GFP_HOOKS = """
custom_imports = dict(imports=['gfp_mmaction', 'test_distributed'], allow_failed_imports=False)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=1))
custom_hooks = [dict(type='DumpRankStateHook')]
"""


def slurm_env(tmp_path: Path, **extra) -> dict:
    """Environment whose PATH starts with the stand-in srun / scontrol; they log their
    calls to ``tmp_path / 'stand_in.jsonl'``."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    for name, text in (('srun', SRUN), ('scontrol', SCONTROL)):
        (bin_dir / name).write_text(text.format(python=PYTHON))
        (bin_dir / name).chmod(0o755)
    return run_env(PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
                   STAND_IN_LOG=tmp_path / 'stand_in.jsonl', PORT=free_port(), **extra)


def stand_in_calls(tmp_path: Path) -> list:
    return [json.loads(line) for line in (tmp_path / 'stand_in.jsonl').read_text().splitlines()]


def test_slurm_train_with_stand_in_srun_trains_with_world_size_2(tmp_path, single_actor_data):
    config = tmp_path / 'gfp_tiny.py'
    config.write_text(tiny_gfp_config(single_actor_data, epochs=2, batch_size=4,
                                      extra=GFP_HOOKS))
    env = slurm_env(tmp_path, GPUS=2, GPUS_PER_NODE=1, CPUS_PER_TASK=1, GRES='none',
                    SRUN_ARGS='--time=10 --exclusive')
    work_dir = tmp_path / 'work'
    proc = start(['bash', 'tools/slurm_train.sh', 'cpu', 'gfp-tiny', str(config),
                  '--work-dir', str(work_dir), '--seed', '0'], env, tmp_path / 'slurm.out')
    finish(proc, tmp_path / 'slurm.out')

    calls = stand_in_calls(tmp_path)
    srun = [c for c in calls if c['tool'] == 'srun']
    assert len(srun) == 1
    # GRES=none (a CPU partition): no --gres; SRUN_ARGS passed through.
    assert srun[0]['opts'] == {'p': 'cpu', 'job-name': 'gfp-tiny', 'ntasks': '2',
                               'ntasks-per-node': '1', 'cpus-per-task': '1',
                               'kill-on-bad-exit': '1', 'time': '10', 'exclusive': True}
    assert srun[0]['command'][:2] == [PYTHON, '-u'] and '--launcher=slurm' in srun[0]['command']
    # MMEngine's slurm launcher asked scontrol for the first node: the master address.
    assert {'tool': 'scontrol', 'argv': ['show', 'hostname', '127.0.0.1,127.0.0.2']} in calls

    log = train_log(work_dir)
    assert 'Distributed launcher: slurm' in log and 'GPU number: 2' in log
    assert 'Epoch(train) [2][2/2]' in log  # 16 clips / (2 tasks x 4)
    assert (work_dir / 'epoch_2.pth').is_file() and not (work_dir / 'epoch_1.pth').exists()
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_2.pth')
    rank0 = torch.load(work_dir / 'rank0.pth', weights_only=False)
    rank1 = torch.load(work_dir / 'rank1.pth', weights_only=False)
    assert rank0['world_size'] == rank1['world_size'] == 2
    assert not set(rank0['indices'][0]) & set(rank1['indices'][0])
    for name, value in rank0['final'].items():
        assert torch.equal(value, rank1['final'][name]), name
    assert any(not torch.equal(rank0['final'][k], rank0['init'][k]) for k in rank0['init'])


def test_dist_test_and_slurm_test_evaluate_every_sample_once(tmp_path, single_actor_data):
    """tools/dist_test.sh (torchrun) and tools/slurm_test.sh (stand-in srun), 2 CPU
    processes each: every test clip is evaluated once and the results come back in the
    dataset's order."""
    import pickle

    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    config = REPO / 'configs' / 'gfp' / 'linear_synthetic_xsub.py'
    tiny = ['model.backbone.embed_dims=32', 'model.backbone.depth=1',
            'model.backbone.num_heads=2', 'model.cls_head.in_channels=32']
    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict({'model.backbone.embed_dims': 32, 'model.backbone.depth': 1,
                         'model.backbone.num_heads': 2, 'model.cls_head.in_channels': 32,
                         'model.backbone.init_cfg': None})
    init_default_scope('mmaction')
    checkpoint = tmp_path / 'linear.pth'
    torch.manual_seed(0)
    torch.save(dict(meta={}, state_dict=MODELS.build(cfg.model).state_dict()), checkpoint)

    options = ['--cfg-options', *tiny, f'test_dataloader.dataset.ann_file={single_actor_data}',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
               'test_dataloader.batch_size=4']
    runs = {
        'dist': start(['bash', 'tools/dist_test.sh', str(config), str(checkpoint), '2',
                       '--work-dir', str(tmp_path / 'dist'), '--dump', str(tmp_path / 'dist.pkl'),
                       *options], run_env(PORT=free_port()), tmp_path / 'dist.out'),
        'slurm': start(['bash', 'tools/slurm_test.sh', 'cpu', 'probe', str(config),
                        str(checkpoint), '--work-dir', str(tmp_path / 'slurm'),
                        '--dump', str(tmp_path / 'slurm.pkl'), *options],
                       slurm_env(tmp_path, GPUS=2, GPUS_PER_NODE=2, GRES='none'),
                       tmp_path / 'slurm.out'),
    }
    with open(single_actor_data, 'rb') as f:
        data = pickle.load(f)
    labels = {a['frame_dir']: a['label'] for a in data['annotations']}
    expected = [labels[name] for name in data['split']['xsub_val']]
    assert len(expected) == 16
    dumps = {}
    for name, proc in runs.items():
        output = finish(proc, tmp_path / f'{name}.out')
        log = train_log(tmp_path / name)
        assert 'Distributed training: True' in log and 'GPU number: 2' in log
        with open(tmp_path / f'{name}.pkl', 'rb') as f:
            dumps[name] = pickle.load(f)
        assert [int(r['gt_label']) for r in dumps[name]] == expected, name
        top1 = np.mean([int(r['pred_label']) == int(r['gt_label']) for r in dumps[name]])
        assert f'acc/top1: {top1:.4f}' in output, name
    assert stand_in_calls(tmp_path)[0]['opts']['ntasks'] == '2'
    for a, b in zip(dumps['dist'], dumps['slurm']):
        assert torch.equal(a['pred_score'], b['pred_score'])
