from .atomic_io import atomic_write
from .config_checks import (
    MissingDataError,
    check_annotation_files,
    missing_annotation_files,
    model_config,
)
from .rng_state import get_rng_state, set_rng_state
from .skeleton_math import frame_motion, patchify, temporal_avg_pool, token_motion_magnitude

__all__ = [
    'get_rng_state', 'set_rng_state', 'atomic_write', 'MissingDataError',
    'check_annotation_files', 'missing_annotation_files', 'model_config', 'frame_motion',
    'patchify', 'temporal_avg_pool', 'token_motion_magnitude'
]
