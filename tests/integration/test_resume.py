"""Killing a training run and resuming it gives the uninterrupted run's result, bit for bit.

Real processes, real SIGKILL, real files. On the CPU, with one thread per process,
every operation is deterministic, so the only way the resumed run can differ is a state
the checkpoint failed to carry: model, optimizer, schedule, epoch / iteration (MMEngine),
the random states and sampler seed (ResumableCheckpointHook) and the augmentation seed
(the data preprocessor's state). The run uses the batched path with two PERSISTENT
data-loader workers: its crops, rotations and masks are keyed on (seed, epoch, sample),
so restarted workers draw exactly what the uninterrupted run's workers drew.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from robustness_helpers import tiny_gfp_config
from test_distributed import PYTHON, REPO, end_started_processes, finish, run_env, start, train_log  # noqa: F401

HOOKS = """
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=1))
"""


def assert_same(a, b, where='checkpoint'):
    """Recursive bitwise equality of tensors / arrays / containers."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


def test_sigkill_then_resume_equals_the_uninterrupted_run(tmp_path):
    from gfp_mmaction.testing.synthetic import write_synthetic_ntu
    ann_file = tmp_path / 'synthetic.pkl'
    data = write_synthetic_ntu(ann_file, subjects=2, views=2, reps=1, seed=0)
    assert len(data['split']['xsub_train']) == 20  # 5 iterations of 4 per epoch
    config = tmp_path / 'gfp_tiny.py'
    config.write_text(tiny_gfp_config(ann_file, epochs=4, batch_size=4, num_workers=2,
                                      extra=HOOKS))
    full_dir, killed_dir = tmp_path / 'uninterrupted', tmp_path / 'killed'

    def command(work_dir, *extra):
        return [PYTHON, 'tools/train.py', str(config), '--work-dir', str(work_dir),
                '--deterministic', *extra]

    full = start(command(full_dir, '--seed', '0'), run_env(), tmp_path / 'full.out')
    victim = start(command(killed_dir, '--seed', '0'), run_env(), tmp_path / 'victim.out')
    # Kill as soon as the first checkpoint is recorded: the run is then in epoch 2 of 4.
    deadline = time.monotonic() + 120
    while not (killed_dir / 'last_checkpoint').exists():
        assert victim.poll() is None, (tmp_path / 'victim.out').read_text()[-3000:]
        assert time.monotonic() < deadline, 'no checkpoint within 120 s'
        time.sleep(0.01)
    time.sleep(0.3)  # some iterations of epoch 2
    os.killpg(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    finish(full, tmp_path / 'full.out')

    latest = Path((killed_dir / 'last_checkpoint').read_text())
    assert latest.is_file() and not (killed_dir / 'epoch_4.pth').exists()
    killed_at = torch.load(latest, weights_only=False)['meta']['epoch']
    assert 1 <= killed_at < 4
    assert 'Epoch(train) [2]' in train_log(killed_dir)  # it was inside a later epoch

    # Resume without --seed: the seed, the sampler's seed and every random state come
    # from the checkpoint (a fresh random seed would otherwise reorder the data).
    resumed = start(command(killed_dir, '--resume'), run_env(), tmp_path / 'resumed.out')
    finish(resumed, tmp_path / 'resumed.out')
    log = train_log(killed_dir)
    assert f'resumed epoch: {killed_at}, iter: {5 * killed_at}' in log
    assert 'Resumed the random states of 1 process(es) and the sampler seed 0' in log
    assert 'SkeletonPretrainPreprocessor' in log

    expected = torch.load(full_dir / 'epoch_4.pth', weights_only=False)
    actual = torch.load(killed_dir / 'epoch_4.pth', weights_only=False)
    assert actual['meta']['epoch'] == expected['meta']['epoch'] == 4
    assert actual['meta']['iter'] == expected['meta']['iter'] == 20
    assert_same(actual['state_dict'], expected['state_dict'], 'state_dict')
    assert_same(actual['optimizer'], expected['optimizer'], 'optimizer')
    assert_same(actual['param_schedulers'], expected['param_schedulers'], 'param_schedulers')
    # The random streams went on identically too.
    assert_same(actual['resume_state'], expected['resume_state'], 'resume_state')
    # Each checkpoint records the older one it was about to remove, so that a run killed
    # between writing it and removing that one removes it when resumed.
    assert expected['message_hub']['runtime_info']['stale_ckpt_ids'] == [3]
    # max_keep_ckpts=1: the older checkpoints were deleted, after the newer was complete.
    assert sorted(p.name for p in killed_dir.glob('epoch_*.pth')) == ['epoch_4.pth']


# Loads atomic_io.py alone: importing the package would cost seconds per attempt. The
# checkpoint backend (AtomicLocalBackend.put) is this function.
WRITER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location('atomic_io', sys.argv[2])
atomic_io = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic_io)
version = 0
while True:
    version += 1
    atomic_io.atomic_write(sys.argv[1], bytes([version % 251]) * (8 << 20))  # 8 MiB
    print(version, flush=True)
"""


ATOMIC_IO = REPO / 'gfp_mmaction' / 'utils' / 'atomic_io.py'


def test_sigkill_during_an_atomic_write_leaves_a_complete_file(tmp_path):
    """Kill a process that rewrites one file in a loop until a kill lands mid-write (a
    temporary file is left over); the destination must then hold one complete version."""
    target = tmp_path / 'latest.pth'
    env = run_env()
    for attempt in range(8):
        writer = subprocess.Popen([PYTHON, '-c', WRITER, str(target), str(ATOMIC_IO)],
                                  env=env, cwd=REPO,
                                  stdout=subprocess.PIPE, text=True)
        assert int(writer.stdout.readline()) >= 1  # one complete version exists
        time.sleep(0.02 * attempt)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        data = target.read_bytes()
        assert len(data) == 8 << 20 and data == bytes([data[0]]) * len(data)
        leftovers = list(tmp_path.glob('.latest.pth.*.tmp'))
        if leftovers:
            break  # this kill interrupted a write, and the destination survived it
    else:
        pytest.fail('no kill landed during a write in 8 attempts')
