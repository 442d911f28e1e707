"""What the skeleton data converters (``tools/data/*_to_pkl.py``) share.

- :func:`atomic_pickle_dump`: a pickle written with :func:`gfp_mmaction.utils.atomic_write`.
- :func:`convert_all`: ordered, optionally multi-process map with a progress bar that
  turns per-file format errors (:class:`~.raw_skeletons.SkeletonFormatError`) into fatal
  errors or counted warnings (``--skip-bad``); :func:`add_counts` sums the per-item
  counts of its results.
- :func:`add_convert_args`: the ``--workers`` and ``--skip-bad`` options.
- :func:`write_converted`: the end of every converter's ``main``: build, refuse an
  empty result, write the pickle, report.

The raw-format readers are :mod:`gfp_mmaction.datasets.raw_skeletons`.
"""
import argparse
import pickle
import sys
from multiprocessing import Pool
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from tqdm import tqdm

from ..utils.atomic_io import atomic_write
from .raw_skeletons import SkeletonFormatError

__all__ = ['add_convert_args', 'add_counts', 'atomic_pickle_dump', 'convert_all',
           'write_converted']


def atomic_pickle_dump(obj, out_path: str) -> None:
    """Pickle ``obj`` to ``out_path`` atomically (:func:`gfp_mmaction.utils.atomic_write`):
    no partial output appears and an existing ``out_path`` is left untouched on error.

    Args:
        obj (object): what to pickle (highest protocol).
        out_path (str): the destination; parent folders are created.
    """
    atomic_write(out_path, lambda f: pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL))


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

    Args:
        func (Callable): converts one item.
        items (Sequence): the items (files, rows, ...).
        workers (int): processes; 1 converts in this process.
        skip_bad (bool): skip items whose conversion raises ``SkeletonFormatError``.
        desc (str): the progress bar's title.
        unit (str): the progress bar's unit.

    Returns:
        tuple[list, list[str]]: ``func``'s results of the good items in input order, and
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


def add_counts(stats: Dict[str, int], counts: Dict[str, int]) -> None:
    """Add the per-item ``counts`` (e.g. one file's denoising counts) to ``stats``."""
    for key, value in counts.items():
        stats[key] = stats.get(key, 0) + value


def add_convert_args(parser: argparse.ArgumentParser, item: str) -> None:
    """``--workers`` and ``--skip-bad`` (for :func:`convert_all`); ``item`` names what is
    skipped in the help, e.g. ``'files'``."""
    parser.add_argument('--workers', type=int, default=1, help='processes (default 1)')
    parser.add_argument('--skip-bad', action='store_true',
                        help=f'skip malformed {item} with a warning instead of failing')


def write_converted(build: Callable[[], Tuple[dict, dict]], out_path: str,
                    empty_message: Callable[[dict], str],
                    summary: Callable[[dict], str]) -> Optional[dict]:
    """The end of every converter's ``main``: run ``build()``, pickle its ``data`` to
    ``out_path`` and print what was written.

    Args:
        build (Callable): returns ``(data, stats)``: the pickle's content (``annotations``
            and ``split``) and the converter's counts.
        out_path (str): the output pickle (written atomically).
        empty_message (Callable): the error message for ``stats`` when no annotation
            was converted (nothing is written then).
        summary (Callable): what was converted from what, for ``stats``; printed as
            ``wrote OUT: SUMMARY``, followed by the size of every split.

    Returns:
        dict | None: ``stats``, or None after printing the error of a
        :class:`SkeletonFormatError` or ``OSError`` (bad input, empty result, failed
        write) and ``no output written`` to stderr.
    """
    try:
        data, stats = build()
        if not data['annotations']:
            raise SkeletonFormatError(empty_message(stats))
        atomic_pickle_dump(data, out_path)
    except (SkeletonFormatError, OSError) as e:
        print(f'error: {e}\nno output written', file=sys.stderr)
        return None
    print(f'wrote {out_path}: {summary(stats)}')
    print('splits: ' + ', '.join(f'{k} {len(v)}' for k, v in data['split'].items()))
    return stats
