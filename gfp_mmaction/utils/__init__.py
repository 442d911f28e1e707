from .skeleton_math import frame_motion, patchify, temporal_avg_pool, token_motion_magnitude

__all__ = ['frame_motion', 'patchify', 'temporal_avg_pool', 'token_motion_magnitude']
