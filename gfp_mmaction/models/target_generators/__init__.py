from .motion_tgn import MotionTargetGenerator, make_mlp

__all__ = ['MotionTargetGenerator', 'make_mlp']
