from .skeleton_pretrain import SkeletonPretrainPreprocessor, augmentation_draws

__all__ = ['SkeletonPretrainPreprocessor', 'augmentation_draws']
