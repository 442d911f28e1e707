"""What the plotting code shares: a display-free matplotlib and atomic figure files."""
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import matplotlib

from ..utils.atomic_io import atomic_write

matplotlib.use('Agg')  # files only, no display needed (servers, CI)

__all__ = ['check_out_path', 'write_atomically', 'save_figure']


def check_out_path(out: str, suffixes: Sequence[str] = ('.png', )) -> Path:
    """The output path of a picture; its folder is created.

    Args:
        out (str): the ``--out`` path.
        suffixes (Sequence[str]): the allowed file endings (lower case).

    Returns:
        Path: ``out`` as a path.

    Raises:
        SystemExit: ``out`` ends in none of ``suffixes``.
    """
    path = Path(out)
    if path.suffix.lower() not in suffixes:
        raise SystemExit(f'--out {out}: expected a file ending in {" or ".join(suffixes)}')
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_atomically(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a scratch file (writers such as matplotlib's animation need a
    file name), then put its bytes at ``path`` with :func:`gfp_mmaction.utils.atomic_write`,
    so that a reader never sees a half-written picture.

    Args:
        path (Path): the destination.
        write (Callable[[str], None]): writes the picture to the file name it is given.

    Returns:
        Path: ``path``.
    """
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        tmp = os.path.join(scratch, path.name)
        write(tmp)
        if not os.path.isfile(tmp) or os.path.getsize(tmp) == 0:
            raise RuntimeError(f'nothing was written for {path}')
        atomic_write(path, Path(tmp).read_bytes(), fsync=False)
    return path


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG at ``path`` atomically and close it.

    Args:
        fig (matplotlib.figure.Figure): the figure.
        path (Path): the destination.
        dpi (int): resolution.

    Returns:
        Path: ``path``.
    """
    import matplotlib.pyplot as plt
    try:
        return write_atomically(
            path, lambda tmp: fig.savefig(tmp, format='png', dpi=dpi, bbox_inches='tight'))
    finally:
        plt.close(fig)
