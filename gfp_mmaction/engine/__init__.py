from . import atomic_backend  # noqa: F401  (registers the 'atomic_local' file backend)
from . import hooks  # noqa: F401
from . import optimizers  # noqa: F401
