"""Faults during training, each made for real: ``tools/train.py`` in its own process with
MMEngine's runner, a real SIGKILL of a data-loader worker or of a rank, real gloo
processes, a real full file system, two real runs in one work dir.

Each run pauses at a known point (``PauseAtIterationHook`` below, imported by the runs
through their config's ``custom_imports``) so that the fault strikes where the test
says, not wherever a race puts it. After each fault the test checks what the user sees
(the ``error:`` line, without a traceback) and what was kept: the checkpoint written
before the fault and ``last_checkpoint`` byte for byte, no partial file, the lock
released, and that ``--resume`` continues.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import torch
from mmaction.registry import HOOKS
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook

from gfp_mmaction.compat import load_from_local
from gfp_mmaction.engine.run_lock import LOCK_FILENAME, WorkDirLock, WorkDirLockedError
from gfp_mmaction.utils.memory import child_pids

from robustness_helpers import REPO, load_train_tool, snapshot, write_config
from test_distributed import PYTHON, end_started_processes, free_port, run_env, start  # noqa: F401

EXIT_TIMEOUT = 60  # s: a failing run must be gone well within this


# ------------------------------------------------------------- imported by the runs
@HOOKS.register_module(force=True)
class PauseAtIterationHook(Hook):
    """Test-only: after batch ``batch`` of epoch ``epoch`` (1-based) on rank ``rank``,
    write the process id to ``marker`` and wait ``seconds``, so that the test strikes a
    run at a known point. Once only: a run that finds ``marker`` does not pause."""

    priority = 'LOWEST'

    def __init__(self, marker: str, epoch: int, batch: int = 1, rank: int = 0,
                 seconds: float = 60) -> None:
        self.marker, self.epoch, self.batch = Path(marker), epoch, batch
        self.rank, self.seconds = rank, seconds
        self.armed = not self.marker.exists()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not (self.armed and runner.epoch + 1 == self.epoch and batch_idx + 1 == self.batch
                and get_dist_info()[0] == self.rank):
            return
        self.armed = False
        self.marker.write_text(str(os.getpid()))
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)


# ---------------------------------------------------------------------- helpers
def pause_hook(marker: Path, epoch: int, batch: int = 1, rank: int = 0) -> str:
    """Config lines that import this module and pause the run (see the hook)."""
    return (f"custom_imports = dict(imports=['gfp_mmaction', 'test_robustness_faults'], "
            f"allow_failed_imports=False)\n"
            f"custom_hooks = [dict(type='PauseAtIterationHook', marker='{marker}', "
            f"epoch={epoch}, batch={batch}, rank={rank})]\n")


def wait_for(path: Path, *procs, timeout: float = 120) -> None:
    """Until ``path`` exists; fail (with the runs' output) if a run ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        for proc, log in procs:
            assert proc.poll() is None, f'the run ended early:\n{log.read_text()[-4000:]}'
        assert time.monotonic() < deadline, f'{path} did not appear within {timeout} s'
        time.sleep(0.02)


def wait_exit(proc: subprocess.Popen, log: Path, timeout: float = EXIT_TIMEOUT):
    """``(return code, output, seconds it took)``; fail if it does not end in time."""
    began = time.monotonic()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f'{proc.args} still running after {timeout} s:\n{log.read_text()[-4000:]}')
    return proc.returncode, log.read_text(), time.monotonic() - began


def error_lines(output: str) -> list:
    """The lines of the ``error: ...`` message that ``tools/train.py`` printed last."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith('error: ')]
    assert starts, f'no "error:" line in the output:\n{output[-4000:]}'
    return lines[starts[-1]:]


def assert_kept(work_dir: Path, before: dict, epoch: int) -> None:
    """The checkpoints and ``last_checkpoint`` are as ``before``, no partial file is
    left, the checkpoint loads through the project's loader, and the lock is released."""
    assert snapshot(work_dir) == before
    assert not list(work_dir.glob('.*.tmp')) and not list(work_dir.glob('*.tmp'))
    last = Path((work_dir / 'last_checkpoint').read_text())
    assert last == work_dir / f'epoch_{epoch}.pth'
    checkpoint = load_from_local(str(last), map_location='cpu')
    assert checkpoint['meta']['epoch'] == epoch
    assert not (work_dir / LOCK_FILENAME).exists()


def log_dirs(work_dir: Path) -> list:
    return sorted(p.name for p in work_dir.iterdir() if p.is_dir())


@pytest.fixture(scope='module')
def ann_file(tmp_path_factory) -> Path:
    """20 training clips (2 iterations of 10 per epoch in the tiny config)."""
    from gfp_mmaction.testing.synthetic import write_synthetic_ntu
    path = tmp_path_factory.mktemp('faults') / 'synthetic.pkl'
    write_synthetic_ntu(path, subjects=2, views=2, reps=1, seed=0)
    return path


@pytest.fixture(scope='module')
def train_tool():
    """``tools/train.py`` loaded in this process, for the runs that need no fault."""
    return load_train_tool()


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead on a busy machine
    yield
    torch.set_num_threads(threads)


def train_command(config: Path, work_dir: Path, *extra) -> list:
    return [PYTHON, 'tools/train.py', str(config), '--work-dir', str(work_dir), '--seed', '0',
            *extra]


# ------------------------------------------------------- a data-loader worker dies
def test_worker_killed_mid_epoch_stops_the_run_and_resume_completes(
        tmp_path, ann_file, train_tool, one_thread):
    marker, work_dir = tmp_path / 'paused', tmp_path / 'work'
    config = write_config(tmp_path, ann_file, epochs=3, extra=pause_hook(marker, epoch=2))
    workers = ['--cfg-options', 'train_dataloader.num_workers=1',
               'train_dataloader.persistent_workers=True']
    run = start(train_command(config, work_dir, *workers), run_env(), tmp_path / 'run.out')
    wait_for(marker, (run, tmp_path / 'run.out'))  # epoch 1 saved, epoch 2 batch 1 done
    before = snapshot(work_dir)
    assert set(before) == {'epoch_1.pth', 'last_checkpoint'}
    worker = child_pids(run.pid)
    assert len(worker) == 1, worker  # num_workers=1, persistent
    os.kill(worker[0], signal.SIGKILL)

    code, output, _ = wait_exit(run, tmp_path / 'run.out')
    assert code == 1
    assert 'Traceback' not in output
    message = error_lines(output)
    assert message[0] == (
        f'error: DataLoader worker (pid {worker[0]}) was killed by SIGKILL (Killed) in epoch '
        f'2, iteration 3: training stopped; the last checkpoint, {work_dir / "epoch_1.pth"}, '
        'is intact and --resume continues from it.')
    assert message[1].startswith("A SIGKILL that nobody sent is usually the kernel's "
                                 'out-of-memory killer')
    assert_kept(work_dir, before, epoch=1)

    # --resume (here in this process) continues from epoch 1 and completes the 3 epochs
    # (the pause hook is spent).
    dirs = log_dirs(work_dir)
    train_tool.main(train_command(config, work_dir, '--resume', *workers)[2:])
    resumed_log = [work_dir / d for d in log_dirs(work_dir) if d not in dirs]
    assert len(resumed_log) == 1
    assert 'resumed epoch: 1, iter: 2' in next(resumed_log[0].glob('*.log')).read_text()
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_3.pth')
    assert load_from_local(str(work_dir / 'epoch_3.pth'))['meta']['iter'] == 6
    assert not (work_dir / LOCK_FILENAME).exists()


# ---------------------------------------------------------- the disk fills up
@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: room for one tiny checkpoint (1.3 MiB) and the logs, not two."""
    disk = tmp_path / 'disk'
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which('mount') is None or subprocess.run(
            ['mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', str(disk)],
            capture_output=True).returncode != 0:
        pytest.skip('cannot mount a small tmpfs here (needs root)')
    try:
        yield disk
    finally:
        subprocess.run(['umount', '-l', str(disk)], check=True)


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(
        tmp_path, ann_file, small_disk, train_tool, one_thread):
    from gfp_mmaction.engine.atomic_backend import DiskFullError
    work_dir = small_disk / 'work'
    # Epoch 1 fits; its checkpoint is the one a full disk must not cost.
    train_tool.main([str(write_config(tmp_path, ann_file, epochs=1)), '--work-dir',
                     str(work_dir), '--seed', '0'])
    before = snapshot(work_dir)
    size = (work_dir / 'epoch_1.pth').stat().st_size
    assert shutil.disk_usage(small_disk).free < size  # the next one cannot fit

    with pytest.raises(DiskFullError) as info:
        train_tool.main([str(write_config(tmp_path, ann_file, epochs=2)), '--work-dir',
                         str(work_dir), '--resume'])
    error = info.value
    assert isinstance(error, OSError) and error.errno == 28  # ENOSPC
    target = work_dir / 'epoch_2.pth'
    # The error names the file, the bytes it needs (a checkpoint of this model: within
    # 1 % of epoch 1's) and the bytes free, measured after the partial temporary file
    # was removed: what the file system says now, but for the page of the lock file,
    # removed since (tmpfs counts whole 4 KiB pages).
    assert error.filename == str(target)
    assert abs(error.needed - size) < size // 100
    assert error.free < error.needed
    assert shutil.disk_usage(small_disk).free - error.free in (0, 4096)
    assert str(error) == (
        f'no space left on device while writing {target}: it needs {error.needed} bytes '
        f'({error.needed / 2 ** 20:.1f} MiB), the file system has {error.free} bytes '
        f'({error.free / 2 ** 10:.1f} KiB) free. Nothing of it was written (the partial '
        'temporary file was removed). The checkpoints already written and '
        '`last_checkpoint` were not changed: free some space (or choose a --work-dir on a '
        f'larger disk) and --resume continues from {work_dir / "epoch_1.pth"}.')
    assert not target.exists()
    assert_kept(work_dir, before, epoch=1)


# -------------------------------------------------------------- a rank is killed
# A tiny fine-tuning run (every parameter trained, gradients all-reduced each step):
# 20 clips, 2 ranks x 5 -> 2 iterations per epoch.
DIST_CONFIG = """
_base_ = '{repo}/configs/gfp/finetune_synthetic_xsub.py'
model = dict(backbone=dict(embed_dims=32, depth=1, num_heads=2, init_cfg=None),
             cls_head=dict(in_channels=32, hidden_dims=64))
train_dataloader = dict(batch_size=5, num_workers=0, persistent_workers=False,
                        dataset=dict(ann_file='{ann_file}'))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
train_cfg = dict(max_epochs=3, val_interval=100)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=2, save_best=None))
{extra}
"""


def start_ranks(tmp_path, ann_file, work_dir, marker, options=(), **env):
    """Two processes of one gloo run, each started on its own as on two machines (no
    torchrun watching over them); rank 1 pauses after epoch 2, batch 1."""
    config = tmp_path / 'dist_tiny.py'
    config.write_text(DIST_CONFIG.format(repo=REPO, ann_file=ann_file,
                                         extra=pause_hook(marker, epoch=2, rank=1)))
    port = free_port()
    ranks = []
    for rank in range(2):
        rank_env = run_env(MASTER_ADDR='127.0.0.1', MASTER_PORT=port, WORLD_SIZE=2,
                           RANK=rank, LOCAL_RANK=rank, **env)
        log = tmp_path / f'rank{rank}.out'
        ranks.append((start(train_command(config, work_dir, '--launcher', 'pytorch',
                                          *options), rank_env, log), log))
    return ranks


def test_killed_rank_the_other_stops_with_a_message(tmp_path, ann_file):
    work_dir, marker = tmp_path / 'work', tmp_path / 'paused'
    # The timeout as the config sets it (MMEngine's key, seconds).
    (rank0, log0), (rank1, log1) = start_ranks(
        tmp_path, ann_file, work_dir, marker,
        options=['--cfg-options', 'env_cfg.dist_cfg.timeout=30'])
    wait_for(marker, (rank0, log0), (rank1, log1))
    before = snapshot(work_dir)
    assert set(before) == {'epoch_1.pth', 'last_checkpoint'}
    os.kill(rank1.pid, signal.SIGKILL)  # rank 0 is waiting for it in an all-reduce

    code, output, seconds = wait_exit(rank0, log0)
    assert code == 1
    assert seconds < 20, seconds  # the lost connection is noticed, not waited out
    message = error_lines(output)
    assert message[0].startswith('error: rank 0 of 2 lost the other processes of the '
                                 'distributed run: ')
    assert 'Connection' in message[0]  # gloo: "... Connection reset / closed by peer"
    assert message[1].startswith('Another process of the run died or stopped responding')
    assert (f'the last checkpoint, {work_dir / "epoch_1.pth"}, is intact and --resume '
            'continues from it (restart every process). A process waits 30 s for the '
            'others') in '\n'.join(message)
    assert_kept(work_dir, before, epoch=1)


def test_hung_rank_the_other_stops_after_the_timeout(tmp_path, ann_file):
    work_dir, marker = tmp_path / 'work', tmp_path / 'paused'
    # The timeout from the environment, which overrides the config's.
    (rank0, log0), (rank1, log1) = start_ranks(
        tmp_path, ann_file, work_dir, marker,
        options=['--cfg-options', 'env_cfg.dist_cfg.timeout=600'], GFP_DIST_TIMEOUT=4)
    wait_for(marker, (rank0, log0), (rank1, log1))
    os.kill(rank1.pid, signal.SIGSTOP)  # alive, connected, silent: a hung machine
    stopped = time.monotonic()
    before = snapshot(work_dir)
    try:
        code, output, _ = wait_exit(rank0, log0)
    finally:
        os.kill(rank1.pid, signal.SIGKILL)
    waited = time.monotonic() - stopped
    assert code == 1
    # The 4 s timeout runs from when rank 0 began to wait, a moment before the SIGSTOP.
    assert 3.5 <= waited < 20, waited
    message = error_lines(output)
    assert message[0] == ('error: rank 0 of 2 lost the other processes of the distributed '
                          'run: Timed out waiting 4000ms for recv operation to complete')
    assert 'A process waits 4 s for the others before it gives up' in message[-1]
    assert_kept(work_dir, before, epoch=1)


# ------------------------------------------------- two runs in one work dir
def test_second_run_in_the_same_work_dir_refuses_naming_the_first(
        tmp_path, ann_file, train_tool, one_thread):
    marker, work_dir = tmp_path / 'paused', tmp_path / 'work'
    config = write_config(tmp_path, ann_file, epochs=1, extra=pause_hook(marker, epoch=1))
    first = start(train_command(config, work_dir), run_env(), tmp_path / 'first.out')
    started = datetime.now().astimezone()
    wait_for(work_dir / LOCK_FILENAME, (first, tmp_path / 'first.out'))
    # The second run starts while the first builds its runner and trains; the first
    # holds the work dir until it ends (here: paused in epoch 1 until killed).
    second = start(train_command(config, work_dir), run_env(), tmp_path / 'second.out')
    wait_for(marker, (first, tmp_path / 'first.out'))
    holder = json.loads((work_dir / LOCK_FILENAME).read_text())
    dirs = log_dirs(work_dir)
    code, output, _ = wait_exit(second, tmp_path / 'second.out')
    assert code == 1
    assert 'Traceback' not in output
    message = error_lines(output)[0]
    assert message.startswith(
        f'error: work dir {work_dir} is in use by another training run: pid {first.pid} on '
        f'host {socket.gethostname()}, started {holder["started"]} ({Path(PYTHON).name} '
        f'tools/train.py {config} --work-dir {work_dir} --seed 0). Two runs in one work '
        'dir would overwrite each other\'s checkpoints.')
    assert abs((datetime.fromisoformat(holder['started']) - started).total_seconds()) < 60
    assert log_dirs(work_dir) == dirs  # the second run made nothing there

    # The first run dies without releasing: the next run (here in this process) takes
    # the lock over, says so in its log, and releases the lock at its end.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert json.loads((work_dir / LOCK_FILENAME).read_text())['pid'] == first.pid
    dirs = log_dirs(work_dir)
    train_tool.main(train_command(config, work_dir)[2:])
    third_log = [work_dir / d for d in log_dirs(work_dir) if d not in dirs]
    assert len(third_log) == 1
    assert (f'{work_dir / LOCK_FILENAME}: took over the lock of a run that is no longer '
            f'running (pid {first.pid} on host {socket.gethostname()}, started '
            f'{holder["started"]}') in next(third_log[0].glob('*.log')).read_text()
    assert not (work_dir / LOCK_FILENAME).exists()
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_1.pth')


def test_lock_without_flock_checks_the_holder_process(tmp_path):
    """Where the file system has no flock, the lock file's own record decides: a live
    process on this host holds it, a dead one's is taken over."""
    holder = subprocess.Popen(['sleep', '60'])
    try:
        stat = Path(f'/proc/{holder.pid}/stat').read_bytes()
        record = dict(pid=holder.pid, host=socket.gethostname(), started='then',
                      command='sleep 60',
                      boot_id=Path('/proc/sys/kernel/random/boot_id').read_text().strip(),
                      process_start=int(stat[stat.rindex(b')') + 2:].split()[19]))
        (tmp_path / LOCK_FILENAME).write_text(json.dumps(record))
        with pytest.raises(WorkDirLockedError, match=f'in use by another training run: pid '
                                                     f'{holder.pid} on host '):
            WorkDirLock(tmp_path, method='exclusive_create').acquire()
    finally:
        holder.kill()
        holder.wait()
    with WorkDirLock(tmp_path, method='exclusive_create') as lock:
        assert lock.taken_over == record
        assert 'took over the lock of a run that is no longer running (pid ' \
            f'{holder.pid}' in lock.takeover_message()
        assert json.loads((tmp_path / LOCK_FILENAME).read_text())['pid'] == os.getpid()
        with pytest.raises(WorkDirLockedError, match=f'pid {os.getpid()} on host'):
            WorkDirLock(tmp_path, method='exclusive_create').acquire()
    assert not (tmp_path / LOCK_FILENAME).exists()


def test_distributed_timeout_comes_from_the_environment_else_the_config(monkeypatch):
    from gfp_mmaction.compat import DIST_TIMEOUT_ENV, distributed_timeout
    monkeypatch.delenv(DIST_TIMEOUT_ENV, raising=False)
    assert distributed_timeout(None) == 1800  # torch's default, 30 minutes
    assert distributed_timeout(dict(backend='nccl', timeout=120)) == 120
    monkeypatch.setenv(DIST_TIMEOUT_ENV, '7.5')
    assert distributed_timeout(dict(backend='nccl', timeout=120)) == 7.5
    for bad in ('0', '-3', 'ten', 'inf'):
        monkeypatch.setenv(DIST_TIMEOUT_ENV, bad)
        with pytest.raises(ValueError, match=f"{DIST_TIMEOUT_ENV}='{bad}': expected a "
                                             'positive number of seconds'):
            distributed_timeout()
