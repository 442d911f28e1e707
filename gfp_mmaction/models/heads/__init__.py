from .gfp_head import GFPHead
from .mamp_head import MAMPHead

__all__ = ['GFPHead', 'MAMPHead']
