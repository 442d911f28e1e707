from .gfp_head import GFPHead
from .linear_probe_head import LinearProbeHead
from .mamp_head import MAMPHead

__all__ = ['GFPHead', 'LinearProbeHead', 'MAMPHead']
