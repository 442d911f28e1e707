"""What the plotting tools share: a display-free matplotlib and atomic figure files."""
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import matplotlib

matplotlib.use('Agg')  # files only, no display needed (servers, CI)

__all__ = ['check_out_path', 'write_atomically', 'save_figure']


def check_out_path(out: str, suffixes: Sequence[str] = ('.png', )) -> Path:
    """The output path, with a suffix from ``suffixes``; its folder is created."""
    path = Path(out)
    if path.suffix.lower() not in suffixes:
        raise SystemExit(f'--out {out}: expected a file ending in {" or ".join(suffixes)}')
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_atomically(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then move it into place,
    so that a reader never sees a half-written picture."""
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        if os.path.getsize(tmp) == 0:
            raise RuntimeError(f'nothing was written for {path}')
        umask = os.umask(0)  # mkstemp makes the file private; give it normal permissions
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG at ``path`` atomically and close it."""
    import matplotlib.pyplot as plt
    try:
        return write_atomically(
            path, lambda tmp: fig.savefig(tmp, format='png', dpi=dpi, bbox_inches='tight'))
    finally:
        plt.close(fig)
