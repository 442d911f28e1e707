"""One training run per work dir: a lock file that names its holder.

Two runs writing the same work dir overwrite each other's checkpoints and
``last_checkpoint``, and a ``--resume`` then continues a mixture of both. ``tools/train.py``
therefore takes :class:`WorkDirLock` on ``WORK_DIR/train.lock`` before it builds the
runner (in a distributed run, the process of global rank 0 does), and a second run in the
same work dir stops at once with a :class:`WorkDirLockedError` naming the first: its pid,
host, start time and command.

How it locks:

- ``flock`` (``fcntl``) on the lock file: the kernel holds the lock for the process and
  drops it when the process ends, however it ends (also SIGKILL or the out-of-memory
  killer), so a lock is never held by a dead process. On NFS, Linux maps ``flock`` to
  the server's byte-range locks, which other nodes see.
- The file's content (one JSON line: pid, host, start time, command) only describes the
  holder. A run that died without releasing leaves the file behind; the next run finds
  it unlocked, takes it over and logs a warning naming the dead run.
- On a file system without ``flock`` (some network or FUSE file systems), the lock is
  the file's existence (``O_CREAT | O_EXCL``): a leftover file is taken over when its
  holder ran on this host and that process is gone (checked by pid, process start
  time and boot id); a holder on another host cannot be checked, so the error says to
  delete the file if that run is over. (Best effort: two runs taking over the same
  leftover file in the same instant can both succeed; ``flock`` has no such gap.)
- Released at exit: the file is removed (while still locked) and closed.
"""
import errno
import json
import os
import os.path as osp
import socket
import sys
import time
from datetime import datetime
from typing import Optional

try:
    import fcntl
except ImportError:  # not POSIX: the lock is the file's exclusive creation
    fcntl = None

__all__ = ['WorkDirLock', 'WorkDirLockedError', 'LOCK_FILENAME', 'launcher_rank',
           'describe_holder']

LOCK_FILENAME = 'train.lock'
# errno values meaning "this file system does not do flock"
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class WorkDirLockedError(RuntimeError):
    """Another training run holds the work dir."""


def launcher_rank(launcher: str) -> int:
    """The global rank of this process as its launcher's environment says, before the
    process group exists: ``RANK`` (torchrun, ``--launcher pytorch``), ``SLURM_PROCID``
    (``slurm``), ``OMPI_COMM_WORLD_RANK`` (``mpi``); 0 without a launcher."""
    variable = dict(pytorch='RANK', slurm='SLURM_PROCID', mpi='OMPI_COMM_WORLD_RANK').get(
        launcher)
    return int(os.environ.get(variable, 0)) if variable else 0


def _boot_id() -> Optional[str]:
    try:
        with open('/proc/sys/kernel/random/boot_id') as f:
            return f.read().strip()
    except OSError:
        return None


def _process_start(pid: int) -> Optional[int]:
    """Start time of ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22), a
    pid's identity together with the boot id; None when unknown or gone."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b')') + 2:].split()[19])


def _holder_alive(holder: dict) -> Optional[bool]:
    """Whether the process a lock file names still runs: True / False when it ran on
    this host, None when that cannot be known (another host, or an unreadable record)."""
    if holder.get('host') != socket.gethostname() or not isinstance(holder.get('pid'), int):
        return None
    if holder.get('boot_id') and _boot_id() and holder['boot_id'] != _boot_id():
        return False  # the machine has rebooted since
    try:
        os.kill(holder['pid'], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    started = holder.get('process_start')
    return started is None or _process_start(holder['pid']) in (None, started)


def describe_holder(holder: dict) -> str:
    """``pid 123 on host node1, started 2025-12-02T03:20:00+00:00 (python tools/train.py
    ...)``: who holds a lock, from its record."""
    if not holder:
        return 'a run that left no record (the lock file is empty)'
    text = f'pid {holder.get("pid", "?")} on host {holder.get("host", "?")}'
    if holder.get('started'):
        text += f', started {holder["started"]}'
    if holder.get('command'):
        text += f' ({holder["command"]})'
    return text


class WorkDirLock:
    """Exclusive lock of a work dir by one training run (see the module docstring).

    Use as a context manager, or call :meth:`acquire` and :meth:`release`::

        with WorkDirLock(cfg.work_dir, logger=MMLogger.get_current_instance()):
            ...  # train

    Args:
        work_dir (str): the run's work dir (created if missing).
        logger (logging.Logger, optional): receives the warning when a dead run's lock
            is taken over (:meth:`takeover_message`); None = the caller logs it (after
            :meth:`acquire`, :attr:`taken_over` says whether there is one).
        method (str): ``'auto'`` (``flock``, else exclusive creation where the file
            system has no ``flock``), ``'flock'`` or ``'exclusive_create'``.
    """

    def __init__(self, work_dir: str, logger=None, method: str = 'auto') -> None:
        if method not in ('auto', 'flock', 'exclusive_create'):
            raise ValueError(f"method must be 'auto', 'flock' or 'exclusive_create', got "
                             f'{method!r}')
        self.work_dir = osp.abspath(work_dir)
        self.path = osp.join(self.work_dir, LOCK_FILENAME)
        self.logger = logger
        self.method = method
        self.taken_over: Optional[dict] = None  # the dead run whose lock was taken over
        self._fd: Optional[int] = None

    # ----------------------------------------------------------------- public
    def acquire(self) -> 'WorkDirLock':
        """Take the lock, or raise.

        Raises:
            WorkDirLockedError: another live run holds it; the message names the run
                (pid, host, start time, command) and the lock file.
        """
        if self._fd is not None:
            return self
        os.makedirs(self.work_dir, exist_ok=True)
        if self.method == 'exclusive_create' or (fcntl is None and self.method == 'auto'):
            self._acquire_exclusive()
        else:
            try:
                self._acquire_flock()
            except OSError as error:
                if self.method == 'flock' or error.errno not in _NO_FLOCK:
                    raise
                self._acquire_exclusive()
        if self.taken_over is not None and self.logger is not None:
            self.logger.warning(self.takeover_message())
        return self

    def takeover_message(self) -> str:
        """The warning for a lock taken over from a dead run ('' when none was)."""
        if self.taken_over is None:
            return ''
        return (f'{self.path}: took over the lock of a run that is no longer running '
                f'({describe_holder(self.taken_over)}); it stopped without releasing the '
                'work dir (killed, or its machine failed). Its checkpoints are as it left '
                'them: --resume continues from the one `last_checkpoint` names.')

    def release(self) -> None:
        """Remove the lock file and release the lock (nothing when not held)."""
        if self._fd is None:
            return
        try:
            if self._owns_path():
                os.remove(self.path)  # while still locked: nobody takes a dying file
        except OSError:
            pass
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

    # ---------------------------------------------------------------- private
    def _record(self) -> bytes:
        pid = os.getpid()
        record = dict(pid=pid, host=socket.gethostname(),
                      started=datetime.now().astimezone().isoformat(timespec='seconds'),
                      command=' '.join([osp.basename(sys.executable)] + sys.argv),
                      boot_id=_boot_id(), process_start=_process_start(pid))
        return (json.dumps(record) + '\n').encode()

    def _holder(self, fd: Optional[int] = None) -> dict:
        """The holder record, waiting up to 1 s for a holder that has just created or
        locked the file to write it."""
        holder = self._read(fd)
        for _ in range(20):
            if holder:
                break
            time.sleep(0.05)
            holder = self._read(fd)
        return holder

    def _read(self, fd: Optional[int] = None) -> dict:
        """The holder record of the lock file ({} when empty or unreadable)."""
        try:
            if fd is None:
                with open(self.path, 'rb') as f:
                    text = f.read()
            else:
                text = os.pread(fd, 1 << 16, 0)
            return json.loads(text) if text.strip() else {}
        except (OSError, ValueError):
            return {}

    def _write(self, fd: int) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, self._record(), 0)
        os.fsync(fd)

    def _owns_path(self) -> bool:
        """Whether the lock file at the path is the one this object has open."""
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(self._fd)
        return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)

    def _refuse(self, holder: dict, hint: str = '') -> WorkDirLockedError:
        return WorkDirLockedError(
            f'work dir {self.work_dir} is in use by another training run: '
            f'{describe_holder(holder)}. Two runs in one work dir would overwrite each '
            'other\'s checkpoints. Wait for it to end, stop it, or train in another '
            f'--work-dir. (Lock file: {self.path}.){hint}')

    def _acquire_flock(self) -> None:
        if fcntl is None:
            raise OSError(errno.ENOSYS, 'flock needs fcntl (POSIX)', self.path)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                raise self._refuse(holder) from None
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            if self._owns_path():
                break
            # The previous holder removed the file between our open and our lock: the
            # lock is on a file nobody else will see. Start again on the new path.
            os.close(fd)
            self._fd = None
        previous = self._read(fd)
        self.taken_over = previous or None
        self._write(fd)

    def _acquire_exclusive(self) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                             0o644)
            except FileExistsError:
                holder = self._holder()
                alive = _holder_alive(holder)
                if alive is False:
                    self.taken_over = holder
                    try:
                        os.remove(self.path)
                    except FileNotFoundError:
                        pass
                    continue
                hint = '' if alive else (
                    ' This file system has no flock, so a run on another host cannot be '
                    'checked: if that run is over, delete the lock file.')
                raise self._refuse(holder, hint) from None
            self._fd = fd
            self._write(fd)
            return
