"""Host memory counted once: proportional set size of a process and its children.

Real processes and a real shared mapping: this process writes a 64 MiB file-backed
shared mapping, a child process maps the same file and reads every page. Each of the
16384 pages is then mapped by two processes, so the kernel charges half of it to each:
this process's PSS drops by 32 MiB, the child's holds 32 MiB of it, and the sum counts
the 64 MiB once, where the RSS of the two counts it twice.
"""
import mmap
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gfp_mmaction.utils.memory import child_pids, process_tree_pss, proportional_set_size

MIB = 2 ** 20
SHARED = 64 * MIB
PAGE = mmap.PAGESIZE

pytestmark = pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='needs Linux /proc')

# Maps FILE, reads one byte of every page, says so, then waits for stdin to close.
CHILD = '''
import mmap, sys
with open(sys.argv[1], 'r+b') as f:
    shared = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED)
total = sum(shared[i] for i in range(0, len(shared), mmap.PAGESIZE))
print(total, flush=True)
sys.stdin.read()
'''


def rss(pid: int) -> int:
    """Resident set size (bytes) from /proc/PID/status."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
    raise AssertionError(f'no VmRSS in /proc/{pid}/status')


@pytest.fixture
def shared_file(tmp_path):
    """A 64 MiB file on a memory file system (``/dev/shm`` if there is one), mapped
    shared by this process and written page by page (every byte 1)."""
    folder = Path('/dev/shm') if os.access('/dev/shm', os.W_OK) else tmp_path
    path = folder / f'gfp_test_memory_{os.getpid()}'
    with open(path, 'w+b') as f:
        f.truncate(SHARED)
        shared = mmap.mmap(f.fileno(), SHARED, mmap.MAP_SHARED)
    view = np.frombuffer(shared, dtype=np.uint8)
    view[:] = 1
    try:
        yield path
    finally:
        del view
        shared.close()
        path.unlink()


def test_a_page_shared_by_two_processes_counts_half_in_each(shared_file):
    before = proportional_set_size()
    child = subprocess.Popen([sys.executable, '-c', CHILD, str(shared_file)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == str(SHARED // PAGE)  # read every page
        tree = process_tree_pss()
        after = proportional_set_size()
        child_pss = proportional_set_size(child.pid)
        child_rss = rss(child.pid)
        main_rss = rss(os.getpid())
    finally:
        child.stdin.close()
        child.wait(timeout=30)

    assert child.pid in tree['worker_pids']
    assert tree['total'] == tree['main'] + sum(tree['workers'])
    assert len(tree['workers']) == len(tree['worker_pids'])
    # This process now shares the 64 MiB: it is charged 32 MiB less (a few MiB of
    # slack for what the interpreter allocates meanwhile and for library pages).
    assert abs((before - after) - SHARED // 2) < 4 * MIB, (before - after) / MIB
    # The child is charged the other half, plus a small interpreter of its own.
    assert SHARED // 2 <= child_pss < SHARED // 2 + 24 * MIB, child_pss / MIB
    # RSS counts the shared pages in both processes, PSS once: the RSS sum exceeds the
    # PSS sum by at least the 64 MiB (more: libraries are shared too).
    assert child_rss >= SHARED
    assert main_rss + child_rss - (after + child_pss) >= SHARED - 1 * MIB


def test_smaps_rollup_and_smaps_agree(shared_file):
    child = subprocess.Popen([sys.executable, '-c', CHILD, str(shared_file)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()  # mapped and read; now idle
        if not Path(f'/proc/{child.pid}/smaps_rollup').exists():
            pytest.skip('kernel without smaps_rollup (before 4.14)')
        rollup = proportional_set_size(child.pid, source='smaps_rollup')
        summed = proportional_set_size(child.pid, source='smaps')
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    # smaps rounds each mapping to whole KiB, the rollup rounds the sum: < 1 KiB each.
    assert abs(rollup - summed) < MIB, (rollup, summed)
    assert rollup >= SHARED // 2


def test_children_live_zombie_and_grandchild():
    # Other children of this process (left by earlier tests: data-loader workers until
    # they are collected, multiprocessing's helpers) may come and go: only this test's
    # own processes are checked.
    sleeper = subprocess.Popen([sys.executable, '-c', 'import subprocess, sys; '
                                'p = subprocess.Popen(["sleep", "30"]); print(p.pid, flush=True); '
                                'sys.stdin.read(); p.kill(); p.wait()'],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    zombie = subprocess.Popen(['true'])
    try:
        grandchild = int(sleeper.stdout.readline())
        deadline = time.monotonic() + 10
        while Path(f'/proc/{zombie.pid}/stat').read_text().split(')')[1].split()[0] != 'Z':
            assert time.monotonic() < deadline, 'the `true` child did not exit'
            time.sleep(0.01)
        ours = {sleeper.pid, grandchild, zombie.pid}
        assert [pid for pid in child_pids() if pid in ours] == sorted([sleeper.pid, grandchild])
        assert [pid for pid in child_pids(recursive=False) if pid in ours] == [sleeper.pid]
        assert child_pids(sleeper.pid) == [grandchild]
        tree = process_tree_pss()
        mine = [i for i, pid in enumerate(tree['worker_pids']) if pid in ours]
        assert [tree['worker_pids'][i] for i in mine] == sorted([sleeper.pid, grandchild])
        assert all(tree['workers'][i] > 0 for i in mine)
        left = process_tree_pss(exclude=[sleeper.pid, grandchild])['worker_pids']
        assert not set(left) & {sleeper.pid, grandchild}
    finally:
        zombie.wait()
        sleeper.stdin.close()
        sleeper.wait(timeout=30)
    assert not ours & set(child_pids())  # all reaped


def test_a_process_that_is_gone_is_named():
    gone = subprocess.Popen(['true'])
    gone.wait()  # reaped: the pid names no process (until the kernel reuses it)
    with pytest.raises(ProcessLookupError, match=f'no process {gone.pid} '):
        proportional_set_size(gone.pid)
    with pytest.raises(ValueError, match="source must be 'auto', 'smaps_rollup' or 'smaps'"):
        proportional_set_size(source='rss')


def test_release_free_memory_returns_the_heap_of_freed_small_arrays():
    """Many small arrays (one per clip, as a loaded annotation file holds them) freed
    between live small objects stay resident until the heap is trimmed."""
    import numpy as np

    from gfp_mmaction.utils.memory import proportional_set_size, release_free_memory
    arrays = [np.ones(7000) for _ in range(4000)]  # 4000 x 56 KB = 214 MiB
    live = [dict(index=i) for i in range(4000)]  # noqa: F841  (keeps the heap fragmented)
    before = proportional_set_size()
    del arrays
    assert release_free_memory()
    assert before - proportional_set_size() > 150 * 2 ** 20
