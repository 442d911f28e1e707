"""Data transforms for GFP / MAMP skeleton pre-training, registered in
``mmaction.registry.TRANSFORMS``."""
from .masking import BaseTokenMasking, MotionAwareTokenMasking, RandomTokenMasking
from .preprocess import (
    CentreOnFirstFrame,
    RandomRotation2D,
    RandomRotation3D,
    ValidCropResize,
    resize_time_linear,
)

__all__ = [
    # token masking (.masking)
    'BaseTokenMasking', 'MotionAwareTokenMasking', 'RandomTokenMasking',
    # clip preprocessing (.preprocess)
    'CentreOnFirstFrame', 'RandomRotation2D', 'RandomRotation3D', 'ValidCropResize',
    'resize_time_linear',
]
