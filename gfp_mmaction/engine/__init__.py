from . import (
    atomic_backend,  # noqa: F401  (registers the 'atomic_local' file backend)
    hooks,  # noqa: F401
    optimizers,  # noqa: F401
)
