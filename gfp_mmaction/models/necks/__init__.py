from .hierarchical_decoder import HierarchicalDecoder, cascade_pool_factors
from .mamp_decoder import MAMPDecoder

__all__ = ['HierarchicalDecoder', 'MAMPDecoder', 'cascade_pool_factors']
