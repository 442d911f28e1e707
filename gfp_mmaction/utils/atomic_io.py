"""Atomic file writes, and an MMEngine file backend that uses them.

A write goes to a temporary file in the destination's folder, is flushed to disk, then
renamed over the destination with ``os.replace`` (atomic on POSIX and Windows within
one file system). A process killed at any moment therefore leaves either the complete
old file or the complete new one, never a truncated one; at worst a stray temporary
``.NAME.*.tmp`` file remains next to it.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Union

__all__ = ['atomic_write']


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Union[str, Path], data: Union[bytes, str, Callable[[BinaryIO], None]],
                 encoding: str = 'utf-8', fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (parent folders are created).

    Args:
        path (str | Path): destination file.
        data (bytes | str | Callable[[BinaryIO], None]): bytes; or str, encoded with
            ``encoding``; or a function that writes the content to the binary file
            object it is given (``pickle.dump``, ``np.savez``: large content is
            streamed, not held twice in memory).
        encoding (str): text encoding for str ``data``. Defaults to ``'utf-8'``.
        fsync (bool): flush the file and its folder to disk, so that the rename is also
            durable across a power loss (a killed process needs only the rename).
            Defaults to True.
    """
    if isinstance(data, str):
        data = data.encode(encoding)
    path = osp.abspath(os.fspath(path))
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            data(f) if callable(data) else f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp creates it private (0600)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    if fsync and hasattr(os, 'O_DIRECTORY'):  # persist the rename itself (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
