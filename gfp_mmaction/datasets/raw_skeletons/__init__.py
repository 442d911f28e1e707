"""Readers of the raw skeleton datasets, and the per-clip preparation shared by the
data converters (``tools/data/``) and single-sample inference (``tools/inference.py``).

numpy and the standard library only. Every reader raises :class:`SkeletonFormatError`
with a message ``"<file>:<line>: <what was expected>, got <what was found>"`` on
malformed input.

- :func:`read_ntu_skeleton`: NTU RGB+D ``.skeleton`` text files (one record per body
  and frame, tracked by Kinect body id); :func:`denoise_ntu` turns one into an
  ``(M, T, 25, 3)`` clip of at most two actors.
- :func:`read_pku_skeleton`, :func:`read_pku_labels`, :func:`read_pku_split`: PKU-MMD
  skeleton, label and split files; :func:`pku_persons` keeps the persons present in a
  stretch of frames.
"""
from .ntu import NTUBody, NTUSequence, denoise_ntu, motion_energy, read_ntu_skeleton, spread_noisy
from .pku import PKUInstance, pku_persons, read_pku_labels, read_pku_skeleton, read_pku_split
from .text import NUM_JOINTS, SkeletonFormatError

__all__ = [
    'NUM_JOINTS', 'SkeletonFormatError', 'NTUBody', 'NTUSequence', 'read_ntu_skeleton',
    'spread_noisy', 'motion_energy', 'denoise_ntu', 'read_pku_skeleton', 'PKUInstance',
    'read_pku_labels', 'read_pku_split', 'pku_persons'
]
