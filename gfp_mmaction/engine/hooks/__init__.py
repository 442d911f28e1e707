"""Training hooks, registered in ``mmaction.registry.HOOKS``."""
from .collapse_monitor import CollapseMonitorHook  # noqa: F401
