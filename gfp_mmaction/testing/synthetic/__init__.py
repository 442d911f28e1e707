"""The project's synthetic NTU RGB+D-style skeleton data (pure numpy).

- :mod:`.kinematics`: the NTU-25 kinematic tree, performers and forward kinematics;
- :mod:`.actions`: the action scripts and the assembly of a scene;
- :mod:`.writer`: cameras, noise, drop-outs, splits and the annotation pickle;
- :mod:`.two_d`: the same clips as MMAction2's 2D COCO-17 annotations.
"""
from .actions import SYNTHETIC_NTU_CLASSES
from .kinematics import NTU_PARENTS, forward_kinematics
from .two_d import generate_synthetic_ntu_2d, write_synthetic_ntu_2d
from .writer import generate_synthetic_ntu, write_synthetic_ntu

__all__ = ['SYNTHETIC_NTU_CLASSES', 'NTU_PARENTS', 'forward_kinematics',
           'generate_synthetic_ntu', 'write_synthetic_ntu', 'generate_synthetic_ntu_2d',
           'write_synthetic_ntu_2d']
