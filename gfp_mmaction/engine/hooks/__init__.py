"""Training hooks, registered in ``mmaction.registry.HOOKS``."""
from .collapse_monitor import CollapseMonitorHook  # noqa: F401
from .atomic_io import AtomicLocalBackend, atomic_write  # noqa: F401
from .resumable_checkpoint import ResumableCheckpointHook  # noqa: F401
from .rng_state import get_rng_state, set_rng_state  # noqa: F401
from .nonfinite_loss import NonFiniteLossError, NonFiniteLossHook  # noqa: F401
from .deferred_runtime_info import DeferredRuntimeInfoHook, logging_interval  # noqa: F401
