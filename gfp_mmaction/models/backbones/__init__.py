from .skeleton_transformer import SkeletonTransformer

__all__ = ['SkeletonTransformer']
