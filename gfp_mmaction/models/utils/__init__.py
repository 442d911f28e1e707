from .masking import gather_visible, scatter_visible, visible_indices
from .pos_embed import FactorisedPosEmbed
from .transformer import Attention, DropPath, Mlp, TransformerBlock, init_transformer_weights

__all__ = [
    'Attention', 'FactorisedPosEmbed', 'DropPath', 'Mlp', 'TransformerBlock',
    'init_transformer_weights', 'gather_visible', 'scatter_visible', 'visible_indices'
]
