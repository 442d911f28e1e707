"""Plumbing shared by the data converters.

- :func:`atomic_pickle_dump`: temp file in the destination folder, then ``os.replace``.
- :func:`convert_all`: ordered, optionally multi-process map with a progress bar that
  turns per-file format errors (:class:`SkeletonFormatError`) into fatal errors or
  counted warnings (``--skip-bad``).

The raw-format readers live in the package, :mod:`gfp_mmaction.datasets.raw_skeletons`,
where ``tools/inference.py`` shares them; the ones this module used to define are
re-exported here so that existing ``from skeleton_io import ...`` lines keep working.
"""
import os
import pickle
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, Iterable, List, Sequence, Tuple

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gfp_mmaction.datasets.raw_skeletons import (  # noqa: E402,F401  (re-exported)
    NUM_JOINTS, NTUBody, NTUSequence, PKUInstance, SkeletonFormatError, read_ntu_skeleton,
    read_pku_labels, read_pku_skeleton, read_pku_split)


# --------------------------------------------------------------------------- plumbing
def atomic_pickle_dump(obj, out_path: str) -> None:
    """Pickle ``obj`` to ``out_path`` atomically: a temp file in the same folder, flushed
    to disk, then ``os.replace``. On any error the temp file is removed, so no partial
    output appears and an existing ``out_path`` is left untouched."""
    out_path = os.path.abspath(out_path)
    folder = os.path.dirname(out_path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{os.path.basename(out_path)}.',
                               suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the usual mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _call(job):
    func, item = job
    try:
        return True, func(item)
    except SkeletonFormatError as e:
        return False, str(e)


def convert_all(func: Callable, items: Sequence, workers: int = 1, skip_bad: bool = False,
                desc: str = 'converting', unit: str = 'file') -> Tuple[List, List[str]]:
    """Apply ``func`` to every item, in order, with a progress bar on stderr.

    ``func`` must be a picklable module-level function when ``workers > 1`` (a
    ``multiprocessing.Pool`` with ordered ``imap``). A :class:`SkeletonFormatError`
    from ``func`` aborts the whole run (re-raised here, the pool is terminated) unless
    ``skip_bad``, when it is printed as a warning and counted.

    Returns:
        ``(results, skipped)``: ``func``'s results of the good items in input order, and
        the error messages of the skipped ones.
    """
    jobs = [(func, item) for item in items]
    results, skipped = [], []
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)

    def consume(outcomes: Iterable):
        for ok, value in outcomes:
            bar.update()
            if ok:
                results.append(value)
            elif skip_bad:
                skipped.append(value)
                tqdm.write(f'warning: skipped: {value}', file=sys.stderr)
            else:
                raise SkeletonFormatError(value)

    try:
        if workers > 1 and len(jobs) > 1:
            chunksize = max(1, min(32, len(jobs) // (workers * 8)))
            with Pool(workers) as pool:
                consume(pool.imap(_call, jobs, chunksize=chunksize))
        else:
            consume(map(_call, jobs))
    finally:
        bar.close()
    return results, skipped
