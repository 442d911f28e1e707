"""An MMEngine file backend whose writes are atomic (see :func:`atomic_write`)."""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from ...utils.atomic_io import atomic_write

__all__ = ['atomic_write', 'AtomicLocalBackend']


@register_backend('atomic_local', force=True)
class AtomicLocalBackend(LocalBackend):
    """MMEngine's local-disk backend whose ``put`` / ``put_text`` write atomically.

    Select it with ``backend_args=dict(backend='atomic_local')`` wherever MMEngine takes
    ``backend_args`` (``CheckpointHook``, ``save_checkpoint``, ``dump``).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj, encoding=encoding)
