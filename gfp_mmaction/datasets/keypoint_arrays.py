"""What :class:`~gfp_mmaction.datasets.SkeletonPoseDataset` does to a sample's keypoint
arrays at load: the off-by-default repairs (non-finite joints, extra persons), the cast
to float32 and the scaling of 2D pixel coordinates. numpy only."""
from typing import List

import numpy as np

from ..utils.skeleton_math import frame_motion

__all__ = ['MAX_PERSONS', 'DEFAULT_IMG_SHAPE', 'NORMALIZE_2D', 'repair_non_finite',
           'person_motion', 'most_moving_persons', 'keypoints_as_float32', 'normalize_2d']

MAX_PERSONS = 2  # what FormatGCNInput(num_person=2) and the models take
DEFAULT_IMG_SHAPE = (1080, 1920)  # (h, w): MMAction2's PreNormalize2D default, NTU's video
NORMALIZE_2D = ('half_height', 'half_size')  # normalize_2d's modes


def repair_non_finite(keypoint: np.ndarray):
    """Zero every joint with a non-finite coordinate; drop persons left all zero.

    Args:
        keypoint (np.ndarray): ``(M, T, V, C)`` float.

    Returns:
        tuple: ``(keypoint (M', T, V, C), kept persons (M',) int, joints zeroed)``; the
        input array itself when it is finite.
    """
    bad = ~np.isfinite(keypoint).all(axis=-1)  # (M, T, V)
    if not bad.any():
        return keypoint, np.arange(len(keypoint)), 0
    keypoint = keypoint.copy()
    keypoint[bad] = 0
    kept = np.flatnonzero(keypoint.reshape(len(keypoint), -1).any(axis=1))
    return keypoint[kept], kept, int(bad.sum())


def person_motion(keypoint: np.ndarray) -> np.ndarray:
    """Per person, the summed joint displacement ``||x[t+1] - x[t]||`` over the pairs of
    consecutive frames where the person is present in both (a body appearing or
    vanishing is not motion). ``(M, T, V, C)`` -> ``(M,)`` float64."""
    keypoint = keypoint.astype(np.float64)
    present = keypoint.reshape(*keypoint.shape[:2], -1).any(axis=2)  # (M, T)
    both = np.zeros_like(present)
    both[:, :-1] = present[:, :-1] & present[:, 1:]  # frame_motion's row t is x[t+1] - x[t]
    step = np.linalg.norm(frame_motion(keypoint), axis=-1).sum(axis=-1)  # (M, T)
    return (step * both).sum(axis=1)


def most_moving_persons(keypoint: np.ndarray, max_persons: int = MAX_PERSONS) -> np.ndarray:
    """Indices of the ``max_persons`` persons of ``keypoint`` ``(M, T, V, C)`` with the
    most :func:`person_motion` (ties: lower index), in increasing order."""
    order = np.argsort(-person_motion(keypoint), kind='stable')
    return np.sort(order[:max_persons])


def keypoints_as_float32(annotations: List[dict]) -> int:
    """Cast every float ``keypoint`` and ``keypoint_score`` array of ``annotations`` to
    float32, in place.

    float16 (MMAction2's and PYSKL's NTU pickles) and float64 hold the same metres; the
    transforms, the batched store and the models compute in float32. float16 values are
    exact in float32; float64 values are rounded to float32's 24-bit mantissa (under a
    micrometre at 5 m). Arrays already float32, and fields that are not float arrays
    (validation reports those), are left as they are.

    Args:
        annotations (list[dict]): annotation dicts.

    Returns:
        int: how many arrays were cast.
    """
    cast = 0
    for anno in annotations:
        for key in ('keypoint', 'keypoint_score'):
            array = anno.get(key) if isinstance(anno, dict) else None
            if isinstance(array, np.ndarray) and array.dtype != np.float32 and \
                    np.issubdtype(array.dtype, np.floating):
                anno[key] = array.astype(np.float32)
                cast += 1
    return cast


def normalize_2d(keypoint: np.ndarray, img_shape=DEFAULT_IMG_SHAPE,
                 mode: str = 'half_height') -> np.ndarray:
    """2D pixel coordinates divided by half the image height, or by half its size.

    - ``'half_height'``: ``x / (h / 2)``, ``y / (h / 2)``: one scale for both axes, so a
      body keeps its proportions and an in-plane rotation turns it as the camera would
      (a person 1.7 m tall 3 m from NTU's camera is about 1 unit tall);
    - ``'half_size'``: ``x / (w / 2)``, ``y / (h / 2)``: the scale of MMAction2's
      ``PreNormalize2D`` (its coordinates lie in ``[-1, 1]``); a 16:9 body is squeezed
      sideways by 9 / 16.

    Neither shifts to the image centre as ``PreNormalize2D`` does: absent joints
    (all-zero coordinates) stay zero, as the presence tests need, and the centring on a
    joint removes any shift.

    Args:
        keypoint (np.ndarray): ``(M, T, V, 2)`` float, pixels.
        img_shape (tuple[int, int]): ``(h, w)`` of the video. Defaults to
            ``(1080, 1920)``.
        mode (str): ``'half_height'`` or ``'half_size'``. Defaults to
            ``'half_height'``.

    Returns:
        np.ndarray: ``(M, T, V, 2)`` float32, a new array.
    """
    if mode not in NORMALIZE_2D:
        raise ValueError(f'normalize_2d: mode must be one of {NORMALIZE_2D}, got {mode!r}')
    h, w = (float(n) for n in img_shape)
    scale = np.array([h / 2 if mode == 'half_height' else w / 2, h / 2])
    return (keypoint / scale).astype(np.float32)
