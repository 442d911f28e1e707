from . import transforms  # noqa: F401
from .retrieval import RetrievalPoseDataset
from .semi_supervised import LabelledSubsetHook, SemiSupervisedPoseDataset
from .synthetic_ntu import generate_synthetic_ntu, write_synthetic_ntu

__all__ = [
    'generate_synthetic_ntu', 'write_synthetic_ntu', 'RetrievalPoseDataset',
    'LabelledSubsetHook', 'SemiSupervisedPoseDataset'
]
