from . import transforms  # noqa: F401
from .per_sample_reference import per_sample_config, per_sample_pipeline
from .retrieval import RetrievalPoseDataset
from .semi_supervised import SemiSupervisedPoseDataset
from .skeleton_clip_dataset import SkeletonClipDataset, skeleton_clip_collate
from .skeleton_dataset import AnnotationError, SkeletonPoseDataset

__all__ = [
    'RetrievalPoseDataset',
    'SemiSupervisedPoseDataset', 'AnnotationError', 'SkeletonPoseDataset',
    'SkeletonClipDataset', 'skeleton_clip_collate', 'per_sample_config', 'per_sample_pipeline'
]
