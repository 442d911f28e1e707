"""Training hooks, registered in ``mmaction.registry.HOOKS``."""
from .collapse_monitor import CollapseMonitorHook  # noqa: F401
from .deferred_runtime_info import DeferredRuntimeInfoHook  # noqa: F401
from .deferred_terms import DeferredTermsHook, logging_interval  # noqa: F401
from .labelled_subset import LabelledSubsetHook  # noqa: F401
from .nonfinite_loss import NonFiniteLossError, NonFiniteLossHook  # noqa: F401
from .resumable_checkpoint import ResumableCheckpointHook  # noqa: F401
