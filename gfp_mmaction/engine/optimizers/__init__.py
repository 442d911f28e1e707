from .autocast_optim_wrapper import AutocastOptimWrapper
from .layer_decay_constructor import LayerDecayOptimWrapperConstructor, encoder_layer_id

__all__ = ['AutocastOptimWrapper', 'LayerDecayOptimWrapperConstructor', 'encoder_layer_id']
