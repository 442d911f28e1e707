from . import transforms  # noqa: F401
from .synthetic_ntu import generate_synthetic_ntu, write_synthetic_ntu

__all__ = ['generate_synthetic_ntu', 'write_synthetic_ntu']
