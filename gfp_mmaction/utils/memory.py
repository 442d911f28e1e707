"""Host memory of a training process and its data-loader workers, counted once.

A data-loader worker is a child of the training process; after a ``fork`` it shares the
parent's pages (copy-on-write), and a dataset held in shared memory is mapped by every
worker. The resident set size (RSS) counts a shared page in every process that maps it,
so summing RSS over workers over-counts, often by the size of the dataset times the
number of workers. The proportional set size (PSS) divides each page by the number of
processes that map it: summed over the processes, a page counts once. That sum is what
the machine really spends.

Linux only: the kernel reports PSS in ``/proc/PID/smaps_rollup`` (Linux 4.14+), else
per mapping in ``/proc/PID/smaps``. Reading another user's process needs the
permission to trace it (``ptrace`` access), as ``/proc`` enforces.
"""
import ctypes
import ctypes.util
import gc
import os
from typing import Dict, Iterable, List, Optional, Tuple

__all__ = ['proportional_set_size', 'process_tree_pss', 'child_pids', 'release_free_memory']

_KIB = 1024


def _sum_field(path: str, field: str) -> int:
    """Sum of the ``field:  N kB`` lines of a ``/proc`` memory file, in bytes."""
    prefix = field + ':'
    total = 0
    with open(path, 'r') as f:
        for line in f:
            if line.startswith(prefix):
                value, unit = line[len(prefix):].split()
                if unit != 'kB':
                    raise ValueError(f'{path}: unexpected unit {unit!r} in {line.strip()!r} '
                                     '(expected kB)')
                total += int(value) * _KIB
    return total


def proportional_set_size(pid: Optional[int] = None, source: str = 'auto') -> int:
    """The proportional set size of process ``pid``: its private resident memory plus,
    for every shared resident page, the page's size divided by the number of processes
    that map it.

    Args:
        pid (int, optional): the process; None = this one.
        source (str): ``'smaps_rollup'`` (one line, the kernel's sum), ``'smaps'`` (the
            sum over mappings, for kernels before 4.14) or ``'auto'``: the first when the
            kernel has it. Defaults to ``'auto'``.

    Returns:
        int: bytes.

    Raises:
        ProcessLookupError: no process ``pid`` (or it exited while being read).
        PermissionError: not allowed to read its memory map (another user's process).
        OSError: no ``/proc`` (not Linux).
    """
    if source not in ('auto', 'smaps_rollup', 'smaps'):
        raise ValueError(f"source must be 'auto', 'smaps_rollup' or 'smaps', got {source!r}")
    pid = os.getpid() if pid is None else int(pid)
    if not os.path.isdir('/proc/self'):
        raise OSError('proportional_set_size needs /proc (Linux); there is none here')
    rollup = f'/proc/{pid}/smaps_rollup'
    if source == 'auto':
        source = 'smaps_rollup' if os.path.exists(rollup) or not os.path.exists(
            f'/proc/{pid}/smaps') else 'smaps'
    path = rollup if source == 'smaps_rollup' else f'/proc/{pid}/smaps'
    try:
        return _sum_field(path, 'Pss')
    except FileNotFoundError as error:
        if not os.path.exists(f'/proc/{pid}'):
            raise ProcessLookupError(f'no process {pid} (reading {path})') from error
        raise
    except ProcessLookupError as error:  # the process exited while its map was read
        raise ProcessLookupError(f'process {pid} exited while {path} was read') from error
    except PermissionError as error:
        raise PermissionError(f'{path}: not allowed to read the memory map of process '
                              f'{pid} (another user\'s process?)') from error


def _state_and_parent(pid: int) -> Optional[Tuple[str, int]]:
    """``(state, parent pid)`` of ``pid`` from ``/proc/PID/stat``; None when it is gone."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    state, parent = stat[stat.rindex(b')') + 2:].split()[:2]
    return state.decode(), int(parent)


def child_pids(pid: Optional[int] = None, recursive: bool = True) -> List[int]:
    """The live children of ``pid`` (with ``recursive``, all its descendants), in
    increasing pid order.

    Args:
        pid (int, optional): the parent; None = this process.
        recursive (bool): include the children's children. Defaults to True.

    Returns:
        list[int]: pids. A zombie (exited, not yet reaped by its parent) is left out.
    """
    pid = os.getpid() if pid is None else int(pid)
    children: Dict[int, List[int]] = {}
    for name in os.listdir('/proc'):
        info = _state_and_parent(int(name)) if name.isdigit() else None
        if info is not None and info[0] not in ('Z', 'X'):
            children.setdefault(info[1], []).append(int(name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            if recursive:
                queue.append(child)
    return sorted(found)


def process_tree_pss(pid: Optional[int] = None, exclude: Iterable[int] = ()) -> Dict:
    """The proportional set size of a process and of each of its live descendants
    (data-loader workers, their helpers): what the run holds in host memory, each shared
    page counted once.

    Args:
        pid (int, optional): the main process; None = this one.
        exclude (Iterable[int]): descendants to leave out (e.g. those that were there
            before the workers being measured were started). Defaults to ().

    Returns:
        dict: ``main`` (bytes of the main process), ``workers`` (bytes of each live
        descendant, in ``worker_pids`` order), ``worker_pids`` (their pids, increasing)
        and ``total`` (``main + sum(workers)``). A descendant that exits while it is
        measured is left out.

    Raises:
        ProcessLookupError: no process ``pid``.
        PermissionError: see :func:`proportional_set_size`.
    """
    pid = os.getpid() if pid is None else int(pid)
    main = proportional_set_size(pid)
    workers, worker_pids, exclude = [], [], set(exclude)
    for child in child_pids(pid):
        if child in exclude:
            continue
        try:
            workers.append(proportional_set_size(child))
        except ProcessLookupError:
            continue
        worker_pids.append(child)
    return dict(main=main, workers=workers, worker_pids=worker_pids,
                total=main + sum(workers))


def release_free_memory() -> bool:
    """Give the heap memory that freed Python objects leave behind back to the system.

    Loading an annotation file creates one numpy array per clip; once a dataset has
    packed them into one array and dropped them, glibc keeps the freed chunks resident
    in its heap (live small objects around them keep the heap from shrinking), so the
    process would hold the data twice. ``malloc_trim(0)`` returns those free pages.

    Returns:
        bool: True when memory was released; False where there is no glibc (macOS, musl
        may lack ``malloc_trim``) or nothing could be released.
    """
    gc.collect()
    name = ctypes.util.find_library('c')
    if name is None:
        return False
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))
