from .layer_decay_constructor import LayerDecayOptimWrapperConstructor, encoder_layer_id

__all__ = ['LayerDecayOptimWrapperConstructor', 'encoder_layer_id']
