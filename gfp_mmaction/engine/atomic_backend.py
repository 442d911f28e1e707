"""An MMEngine file backend whose writes are atomic (see :func:`atomic_write`), and that
says what a full disk means when it meets one."""
import errno
import os
import os.path as osp
from pathlib import Path
from typing import Optional, Union

from mmengine.fileio import LocalBackend, register_backend

from ..utils.atomic_io import atomic_write

__all__ = ['AtomicLocalBackend', 'DiskFullError', 'free_bytes']

_FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left; disk quota exceeded


def _size(num_bytes: int) -> str:
    """``1357555 bytes (1.3 MiB)``."""
    value, unit = float(num_bytes), 'bytes'
    for name in ('KiB', 'MiB', 'GiB', 'TiB'):
        if value < 1024:
            break
        value, unit = value / 1024, name
    return f'{num_bytes} bytes' + ('' if unit == 'bytes' else f' ({value:.1f} {unit})')


def free_bytes(path: Union[str, Path]) -> Optional[int]:
    """Bytes an unprivileged process may still write on the file system of ``path`` (or
    of its nearest existing parent); None when it cannot be asked."""
    folder = osp.abspath(os.fspath(path))
    while not osp.exists(folder) and osp.dirname(folder) != folder:
        folder = osp.dirname(folder)
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


class DiskFullError(OSError):
    """A file could not be written because its file system is full (``ENOSPC``) or the
    user's quota is spent (``EDQUOT``). Nothing of it was left behind: the write went to
    a temporary file, which was removed.

    Attributes:
        filename (str): the file that was being written.
        needed (int): its size in bytes.
        free (int | None): the bytes free on its file system when the write failed.
    """

    def __init__(self, code: int, path: str, needed: int, free: Optional[int],
                 note: str = '') -> None:
        free_text = 'unknown' if free is None else _size(free)
        reason = 'disk quota exceeded' if code == errno.EDQUOT else 'no space left on device'
        message = (f'{reason} while writing {path}: it needs {_size(needed)}, the file '
                   f'system has {free_text} free. Nothing of it was written (the partial '
                   'temporary file was removed).' + (f' {note}' if note else ''))
        super().__init__(code, message)
        self.filename, self.needed, self.free, self.note = path, needed, free, note

    def __str__(self) -> str:
        return self.strerror

    def __reduce__(self):  # picklable with its fields (OSError pickles (errno, strerror))
        return type(self), (self.errno, self.filename, self.needed, self.free, self.note)

    def with_note(self, note: str) -> 'DiskFullError':
        """The same error with ``note`` appended to its message."""
        return DiskFullError(self.errno, self.filename, self.needed, self.free,
                             f'{self.note} {note}'.strip())


def write_or_explain(path: Union[str, Path], data: Union[bytes, str],
                     encoding: str = 'utf-8') -> None:
    """:func:`atomic_write`, raising :class:`DiskFullError` (naming the file, the bytes
    it needs and the bytes free) when the file system is full."""
    try:
        atomic_write(path, data, encoding=encoding)
    except OSError as error:
        if error.errno not in _FULL:
            raise
        needed = len(data.encode(encoding) if isinstance(data, str) else data)
        raise DiskFullError(error.errno, osp.abspath(os.fspath(path)), needed,
                            free_bytes(path)) from error


@register_backend('atomic_local', force=True)
class AtomicLocalBackend(LocalBackend):
    """MMEngine's local-disk backend whose ``put`` / ``put_text`` write atomically.

    Select it with ``backend_args=dict(backend='atomic_local')`` wherever MMEngine takes
    ``backend_args`` (``CheckpointHook``, ``save_checkpoint``, ``dump``). A write that
    meets a full file system raises :class:`DiskFullError` and leaves no partial file:
    the destination keeps its previous content, if it had one.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_or_explain(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_or_explain(filepath, obj, encoding=encoding)
