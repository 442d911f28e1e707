from .skeleton_transformer import SkeletonTransformer, load_encoder_state

__all__ = ['SkeletonTransformer', 'load_encoder_state']
