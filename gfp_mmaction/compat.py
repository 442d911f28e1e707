"""Absorbs three defects of the torch 2.13 / mmengine 0.10.7 / mmaction2 1.2.0 stack.

Everything here runs once, when ``gfp_mmaction`` is imported, before any registry
builds a model or a runner. Each fix is idempotent and does nothing on a stack that
does not have the defect.

1. The mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn`` (upstream issue
   2714), so the first ``import mmaction.models`` fails. A placeholder module stands
   in for it; DRN is a video-grounding model nobody on the skeleton path builds.
2. torch >= 2.6 unpickles with ``weights_only=True``, which refuses the ``HistoryBuffer``
   and numpy objects that every MMEngine checkpoint holds (message hub, random states),
   so resume, ``load_from`` and ``tools/test.py`` fail. MMEngine's local loader is
   re-registered: it keeps ``weights_only=True`` and allows exactly the objects of
   :func:`checkpoint_allowlist` besides torch's own (tensors, containers, numbers,
   strings). A checkpoint holding anything else is refused with an
   :class:`UntrustedCheckpointError` naming the file and the objects, before any of its
   code runs; ``GFP_TRUST_CHECKPOINTS=1`` in the environment loads such a file with full
   unpickling (it then runs the file's code: trusted files only). See
   docs/robustness.md, "Checkpoint trust".
3. MMEngine's ``init_dist`` always calls ``torch.cuda.set_device`` and uses the config's
   backend (``nccl``), and its default DDP wrapper passes ``device_ids``; both break
   data-parallel training on CPU. Without CUDA the launch uses ``gloo`` and skips the
   device selection, and DDP gets no ``device_ids``.

   How long a process waits for the others (a collective, the rendezvous) before it
   fails instead of hanging is bounded on either path by :func:`distributed_timeout`:
   ``GFP_DIST_TIMEOUT`` (seconds) in the environment, else the config's
   ``env_cfg.dist_cfg.timeout`` (seconds, MMEngine's key), else torch's default of
   30 minutes.

Besides, :func:`silence_mmcv_lite_warning` hides the one warning mmcv-lite prints on every
``import mmaction.models`` (it has no compiled ops, which nothing on the skeleton path
uses). It runs first, so every tool, and every process that imports the plugin through
``custom_imports``, starts quietly.
"""
import contextlib
import datetime
import functools
import logging
import os
import os.path as osp
import pickle
import re
import sys
import types
import warnings
from typing import List, Optional

import torch

__all__ = ['apply_stack_fixes', 'checkpoint_allowlist', 'checkpoints_trusted',
           'load_from_local', 'silence_mmcv_lite_warning', 'TRUST_ENV',
           'UntrustedCheckpointError', 'DIST_TIMEOUT_ENV', 'distributed_timeout',
           'end_distributed']

_DRN_MODULES = ('mmaction.models.localizers.drn', 'mmaction.models.localizers.drn.drn')


def _install_drn_placeholder() -> None:
    import importlib.util
    spec = importlib.util.find_spec('mmaction')  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return
    package_dir = next(iter(spec.submodule_search_locations))
    if osp.isdir(osp.join(package_dir, 'models', 'localizers', 'drn')):
        return  # a release that ships DRN: nothing to absorb

    class DRN:  # noqa: D401 - a placeholder, never built
        """Placeholder for mmaction2's missing DRN localizer (not shipped in 1.2.0)."""

        def __init__(self, *args, **kwargs):
            raise RuntimeError('DRN is not shipped in the mmaction2 1.2.0 wheel; '
                               'gfp_mmaction only installed a placeholder for it.')

    package = types.ModuleType(_DRN_MODULES[0])
    package.__path__ = []  # makes it a package, so the submodule import resolves
    module = types.ModuleType(_DRN_MODULES[1])
    module.DRN = DRN
    package.drn = module
    sys.modules.setdefault(_DRN_MODULES[0], package)
    sys.modules.setdefault(_DRN_MODULES[1], module)


TRUST_ENV = 'GFP_TRUST_CHECKPOINTS'
# The statistics HistoryBuffer registers on itself (``_set_default_statistics``); its
# pickled state refers to them as ``getattr(HistoryBuffer, name)`` (pickle protocol 2).
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects outside :func:`checkpoint_allowlist`: nothing of it was
    loaded and none of its code ran."""


def _history_buffer_statistic(owner, name: str):
    """``getattr`` as checkpoints may call it while unpickling: only
    ``getattr(HistoryBuffer, s)`` for a default statistic ``s`` (``'min'``, ``'max'``,
    ``'current'``, ``'mean'``), which is how ``HistoryBuffer``'s state names them.

    Raises:
        pickle.UnpicklingError: any other owner or attribute.
    """
    from mmengine.logging import HistoryBuffer
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(owner, "__qualname__", type(owner).__name__)}, {name!r}) is '
        'not allowed: a checkpoint may only name the statistics methods '
        f'{_HISTORY_BUFFER_STATISTICS} of mmengine.logging.HistoryBuffer')


def checkpoint_allowlist() -> List:
    """What a checkpoint may hold besides what ``torch.load(weights_only=True)`` accepts
    anyway (tensors, parameters, storages, torch dtypes / devices / sizes, ``dict``,
    ``list``, ``tuple``, ``set``, ``OrderedDict``, ``Counter``, ``int``, ``float``,
    ``complex``, ``str``, ``bytes``, ``bool``, ``None``).

    Every entry is there because checkpoints written by MMEngine's runner with this
    project's hooks hold it (measured on pre-training, fine-tuning and semi-supervised
    runs, resume and ``save_best`` checkpoints alike):

    - ``mmengine.logging.history_buffer.HistoryBuffer``: the message hub's logged
      scalars (``checkpoint['message_hub']['log_scalars']``);
    - ``builtins.getattr``, restricted to ``getattr(HistoryBuffer, 'min' | 'max' |
      'current' | 'mean')``: how a ``HistoryBuffer``'s state names its statistics;
    - ``numpy.ndarray``, ``numpy.dtype`` and ``numpy.core.multiarray._reconstruct``:
      the ``HistoryBuffer`` histories and the numpy random state that
      ``ResumableCheckpointHook`` stores (``np.random.get_state()`` holds a ``uint32``
      array);
    - ``numpy.core.multiarray.scalar``: numpy scalars in the message hub's runtime
      info (``eta``, ``best_score``);
    - numpy's dtype classes for bool, 8 to 64 bit signed and unsigned integers and 16 to
      64 bit floats (``numpy.dtypes.Float64DType``, ...): not globals of the file but the
      types a pickled dtype's state is set on. Measured: ``float64`` (histories,
      scalars), ``int64`` (history counts), ``uint32`` (the numpy random state); the
      other plain-number types keep a metric computed in ``float32``, or a platform
      whose default integer is 32 bit, from being refused. Object, string and
      structured dtypes stay refused.

    The numpy functions are allowed under both module names, ``numpy.core`` (files
    written with numpy 1.x) and ``numpy._core`` (numpy 2.x).

    Returns:
        list: objects and ``(object, 'module.name')`` pairs, as
        :func:`torch.serialization.safe_globals` takes them.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer
    reconstruct = np.zeros(1).__reduce__()[0]    # numpy(._)core.multiarray._reconstruct
    scalar = np.float64(0).__reduce__()[0]       # numpy(._)core.multiarray.scalar
    allowed = [HistoryBuffer, np.ndarray, np.dtype,
               (_history_buffer_statistic, 'builtins.getattr')]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed += [(reconstruct, f'{module}._reconstruct'), (scalar, f'{module}.scalar')]
    numeric = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
               np.uint32, np.uint64, np.float16, np.float32, np.float64)
    allowed += [type(np.dtype(t)) for t in numeric]
    return allowed


def checkpoints_trusted() -> bool:
    """Whether ``GFP_TRUST_CHECKPOINTS`` opts in to fully unpickling the checkpoints
    that the allowlist refuses.

    Returns:
        bool: True for ``1``; False when unset, empty or ``0``.

    Raises:
        ValueError: any other value (a typo must not silently keep or drop trust).
    """
    value = os.environ.get(TRUST_ENV, '').strip()
    if value in ('', '0'):
        return False
    if value == '1':
        return True
    raise ValueError(f'{TRUST_ENV}={value!r}: expected 1 (fully unpickle the checkpoints '
                     'that the allowlist refuses; trusted files only) or 0 / unset')


@contextlib.contextmanager
def _allowlisted():
    """:func:`checkpoint_allowlist` added to torch's safe globals for the duration, minus
    what the process had already added (left in place on exit)."""
    present = torch.serialization.get_safe_globals()
    extra = [entry for entry in checkpoint_allowlist() if entry not in present]
    with torch.serialization.safe_globals(extra):
        yield


def _refused_globals(filename: str, message: str) -> List[str]:
    """The globals of ``filename`` outside the allowlist (call inside :func:`_allowlisted`):
    a static scan of the pickle, else the one torch's ``message`` names."""
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception:  # not a zip checkpoint (legacy format): torch names the first one
        return sorted(set(re.findall(r'GLOBAL (\S+)', message)))


def _torch_reason(message: str) -> str:
    """The unpickler's own reason inside torch's long ``weights_only`` message."""
    reason = message.split('WeightsUnpickler error:', 1)[-1]
    reason = reason.split('\n\nCheck the documentation of torch.load', 1)[0]
    return ' '.join(reason.split())


# MMEngine logs the loader as ``name[10:]`` ("Loads checkpoint by local backend"): keep
# the ``load_from_`` prefix.
def load_from_local(filename: str, map_location=None):
    """MMEngine's local checkpoint loader with ``weights_only=True`` and the allowlist.

    Args:
        filename (str): path of the checkpoint (``~`` is expanded).
        map_location (str | callable, optional): as :func:`torch.load`.

    Returns:
        dict: the checkpoint.

    Raises:
        FileNotFoundError: no such file.
        UntrustedCheckpointError: the file holds objects outside
            :func:`checkpoint_allowlist`; the message names the file and those objects
            (the globals, or torch's reason when it is not a global). Nothing from the
            file ran. Unless ``GFP_TRUST_CHECKPOINTS=1``: the file is then unpickled
            fully and a warning names what it held.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with _allowlisted():
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as error:
            refused = _refused_globals(filename, str(error))
            reason = _torch_reason(str(error))
    what = (f'it holds the global(s) {", ".join(refused)}, which are not on the checkpoint '
            'allowlist' if refused else f'the weights-only unpickler refused it: {reason}')
    from mmengine.logging import print_log
    if checkpoints_trusted():
        print_log(f'Checkpoint {filename}: {what}; loading it with full unpickling because '
                  f'{TRUST_ENV}=1 (this runs code from the file)', logger='current',
                  level=logging.WARNING)
        return torch.load(filename, map_location=map_location, weights_only=False)
    raise UntrustedCheckpointError(
        f'Refused to load checkpoint {filename}: {what}. Unpickling it could run code '
        'from the file, so nothing of it was loaded. A checkpoint may hold tensors, '
        'numbers, strings, containers and the MMEngine / numpy objects listed by '
        'gfp_mmaction.compat.checkpoint_allowlist. If you trust this file (you wrote it, '
        f'or its source is trusted), set the environment variable {TRUST_ENV}=1 to load '
        'it with full unpickling (see docs/robustness.md, "Checkpoint trust").')


def _register_allowlisted_checkpoint_loader() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


@contextlib.contextmanager
def _cuda_set_device_disabled():
    original = torch.cuda.set_device
    torch.cuda.set_device = lambda *args, **kwargs: None
    try:
        yield
    finally:
        torch.cuda.set_device = original


DIST_TIMEOUT_ENV = 'GFP_DIST_TIMEOUT'
_TORCH_DEFAULT_TIMEOUT = 1800.0  # torch.distributed's default_pg_timeout (30 min)


def _env_timeout() -> Optional[float]:
    """``GFP_DIST_TIMEOUT`` in seconds, None when unset or empty.

    Raises:
        ValueError: not a positive number.
    """
    value = os.environ.get(DIST_TIMEOUT_ENV, '').strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float('inf'):
        raise ValueError(f'{DIST_TIMEOUT_ENV}={value!r}: expected a positive number of '
                         'seconds (how long a process waits for the others before the '
                         'run stops)')
    return seconds


def distributed_timeout(dist_cfg: Optional[dict] = None) -> float:
    """How long, in seconds, a process of a distributed run waits for the others in a
    collective (or at the rendezvous) before it fails: ``GFP_DIST_TIMEOUT`` if set,
    else ``dist_cfg['timeout']`` (the config's ``env_cfg.dist_cfg``, seconds, as
    MMEngine's ``init_dist`` takes it), else torch's default, 1800.

    Raises:
        ValueError: ``GFP_DIST_TIMEOUT`` is not a positive number.
    """
    from_env = _env_timeout()
    if from_env is not None:
        return from_env
    timeout = (dist_cfg or {}).get('timeout')
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout) if timeout is not None else _TORCH_DEFAULT_TIMEOUT


def _cpu_capable_launch(init_fn):
    if getattr(init_fn, '_gfp_cpu_capable', False):
        return init_fn

    @functools.wraps(init_fn)
    def launch(backend, *args, **kwargs):
        from_env = _env_timeout()
        if from_env is not None:  # the environment overrides env_cfg.dist_cfg.timeout
            kwargs['timeout'] = datetime.timedelta(seconds=from_env)
        if torch.cuda.is_available():
            return init_fn(backend, *args, **kwargs)
        with _cuda_set_device_disabled():
            return init_fn('gloo', *args, **kwargs)

    launch._gfp_cpu_capable = True
    return launch


def _make_distributed_launch_cpu_capable() -> None:
    import mmengine.dist.utils as dist_utils
    from mmengine.model import MMDistributedDataParallel

    dist_utils._init_dist_pytorch = _cpu_capable_launch(dist_utils._init_dist_pytorch)
    dist_utils._init_dist_slurm = _cpu_capable_launch(dist_utils._init_dist_slurm)

    original_init = MMDistributedDataParallel.__init__
    if getattr(original_init, '_gfp_cpu_capable', False):
        return

    @functools.wraps(original_init)
    def __init__(self, module, *args, **kwargs):
        first_param = next(module.parameters(), None)
        if first_param is not None and first_param.device.type == 'cpu':
            kwargs.pop('device_ids', None)  # CPU DDP requires device_ids=None
        original_init(self, module, *args, **kwargs)

    __init__._gfp_cpu_capable = True
    MMDistributedDataParallel.__init__ = __init__


# What mmcv-lite's mmcv/cnn/bricks/transformer.py warns at import (mmcv 2.0 and 2.1).
MMCV_LITE_WARNING = r'Fail to import ``MultiScaleDeformableAttention``'
_MMCV_LITE_WARNING_MODULE = r'mmcv\.cnn\.bricks\.transformer'


def silence_mmcv_lite_warning() -> None:
    """Ignore the ``UserWarning`` that mmcv-lite raises when ``mmcv.cnn`` is imported
    without its compiled ops ("Fail to import ``MultiScaleDeformableAttention`` ...").

    Only that message, only that category and only from the module that raises it
    (``mmcv.cnn.bricks.transformer``) is filtered; every other warning, from mmcv or
    elsewhere, is shown as before. It must run before the first ``import
    mmaction.models``: importing ``gfp_mmaction`` does it first, so the tools, which
    import the plugin before anything builds, never print it. Idempotent.
    """
    warnings.filterwarnings('ignore', message=MMCV_LITE_WARNING, category=UserWarning,
                            module=_MMCV_LITE_WARNING_MODULE)


def apply_stack_fixes() -> None:
    """Apply the three fixes described in this module's docstring (and silence
    mmcv-lite's import warning first)."""
    silence_mmcv_lite_warning()
    _install_drn_placeholder()
    _register_allowlisted_checkpoint_loader()
    _make_distributed_launch_cpu_capable()


def end_distributed() -> None:
    """Destroy the default process group, if this process has one, before the
    interpreter exits.

    MMEngine never does; a gloo group left to the interpreter's teardown can end the
    process with ``terminate called without an active exception`` after all its work is
    done. Destroying it has its own hazard: gloo closes its connections with a reset
    (``SO_LINGER`` 0, ``gloo/transport/tcp/pair.cc``), so a rank that tears its group
    down while a peer still reads the last message of the final barrier aborts that peer
    (SIGABRT in a loaded 2-process run). Hence two steps: a gloo barrier (every rank's
    collectives are done), then a check-in over the rendezvous store, which uses no gloo
    connection, so that no rank closes its connections before every rank has left the
    barrier."""
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    store = dist.distributed_c10d._get_default_store()
    key = 'gfp_mmaction/end_distributed'
    if store.add(key, 1) == dist.get_world_size():
        store.set(f'{key}/all', 'done')
    store.wait([f'{key}/all'])
    dist.destroy_process_group()
