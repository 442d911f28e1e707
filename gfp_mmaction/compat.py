"""Absorbs three defects of the torch 2.13 / mmengine 0.10.7 / mmaction2 1.2.0 stack.

Everything here runs once, when ``gfp_mmaction`` is imported, before any registry
builds a model or a runner. Each fix is idempotent and does nothing on a stack that
does not have the defect.

1. The mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn`` (upstream issue
   2714), so the first ``import mmaction.models`` fails. A placeholder module stands
   in for it; DRN is a video-grounding model nobody on the skeleton path builds.
2. torch >= 2.6 unpickles with ``weights_only=True``; MMEngine checkpoints hold
   ``HistoryBuffer`` and numpy objects, so resume, ``load_from`` and ``tools/test.py``
   fail. MMEngine's local loader is re-registered with ``weights_only=False``.
   Unpickling runs code from the file: load only checkpoints you trust.
3. MMEngine's ``init_dist`` always calls ``torch.cuda.set_device`` and uses the config's
   backend (``nccl``), and its default DDP wrapper passes ``device_ids``; both break
   data-parallel training on CPU. Without CUDA the launch uses ``gloo`` and skips the
   device selection, and DDP gets no ``device_ids``.
"""
import contextlib
import functools
import os.path as osp
import sys
import types

import torch

__all__ = ['apply_stack_fixes']

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


def _register_trusted_checkpoint_loader() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader

    # MMEngine logs the loader as ``name[10:]``: keep the ``load_from_`` prefix.
    def load_from_local(filename, map_location):
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return torch.load(filename, map_location=map_location, weights_only=False)

    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


@contextlib.contextmanager
def _cuda_set_device_disabled():
    original = torch.cuda.set_device
    torch.cuda.set_device = lambda *args, **kwargs: None
    try:
        yield
    finally:
        torch.cuda.set_device = original


def _cpu_capable_launch(init_fn):
    if getattr(init_fn, '_gfp_cpu_capable', False):
        return init_fn

    @functools.wraps(init_fn)
    def launch(backend, *args, **kwargs):
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


def apply_stack_fixes() -> None:
    """Apply the three fixes described in this module's docstring."""
    _install_drn_placeholder()
    _register_trusted_checkpoint_loader()
    _make_distributed_launch_cpu_capable()
