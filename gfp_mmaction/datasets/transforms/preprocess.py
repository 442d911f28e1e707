"""MAMP's skeleton preprocessing, run per sample inside MMAction2's ``PoseDataset``.

The transforms work on ``results['keypoint']``, a float32 array ``(M, T, V, C)``
(``M`` persons, ``T`` frames, ``V`` joints of any layout, ``C`` coordinates: 3 metric
ones as in MMAction2's NTU 3D pickles, or 2 pixel ones as in its 2D pickles, whose
``keypoint_score`` ``(M, T, V)`` is a separate field), and must run before
``FormatGCNInput``, which appends the score as a last channel. A person that is absent
in a frame (a missing body, or the zero padding after the clip's end) has all its
coordinates zero there; the transforms keep such entries at exactly zero where the
reference does. Channels after the coordinates (a score appended early, e.g. by
MMAction2's ``GenSkeFeat``) are never centred or rotated: see ``coord_dims``.

Random draws use numpy's global generator, like MMAction2's own transforms, so that
MMEngine's seeding (``randomness=dict(seed=...)``) makes the pipeline reproducible. Each
random transform draws uniform numbers and hands them to the shared math of
:mod:`gfp_mmaction.utils.skeleton_math`, which the batched pre-training preprocessor
(:class:`~gfp_mmaction.models.data_preprocessors.SkeletonPretrainPreprocessor`) runs on
whole batches: these transforms are its per-sample reference.
"""
from typing import Dict, Optional, Sequence

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ...utils.skeleton_math import (
    centre_on_first_frame,
    crop_window,
    linear_resample_coords,
    rotation_matrix,
    rotation_matrix_2d,
    valid_frames,
)

__all__ = ['CentreOnFirstFrame', 'ValidCropResize', 'RandomRotation3D', 'RandomRotation2D',
           'resize_time_linear', 'rotate_coords']


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_real(x) -> bool:
    """A finite int or float (not a bool)."""
    return (isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
            and bool(np.isfinite(x)))


def _sample_name(results: Dict) -> str:
    return str(results.get('frame_dir', results.get('filename', '<unnamed sample>')))


def _get_keypoint(results: Dict, who: str, ndim: int = 4) -> np.ndarray:
    """Fetch ``results['keypoint']`` and check its rank, naming the sample on failure."""
    if 'keypoint' not in results:
        raise KeyError(f'{who}: sample {_sample_name(results)!r} has no field "keypoint"')
    keypoint = np.asarray(results['keypoint'])
    if keypoint.ndim != ndim:
        raise ValueError(
            f'{who}: sample {_sample_name(results)!r}: field "keypoint" must have {ndim} dims '
            f'(M, T, V, C), got shape {keypoint.shape}')
    if not np.issubdtype(keypoint.dtype, np.floating):
        raise TypeError(f'{who}: sample {_sample_name(results)!r}: field "keypoint" must be '
                        f'float (metric coordinates), got dtype {keypoint.dtype}')
    finite = np.isfinite(keypoint)
    if not finite.all():
        # A NaN would pass every later step and surface as a NaN loss, far from here.
        m, t = np.argwhere(~finite)[0][:2]
        raise ValueError(f'{who}: sample {_sample_name(results)!r}: field "keypoint" has '
                         f'{int((~finite).sum())} non-finite values (first: person {m}, '
                         f'frame {t}); expected finite coordinates')
    return keypoint


def rotate_coords(keypoint: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Rotate the first ``D`` channels of every point by ``matrix`` ``(D, D)``
    (``x' = R @ x``); later channels (a score) are copied unchanged.

    Args:
        keypoint (np.ndarray): ``(..., C)`` with ``C >= D``.
        matrix (np.ndarray): ``(D, D)``.

    Returns:
        np.ndarray: ``(..., C)`` float32, contiguous.
    """
    keypoint = keypoint.astype(np.float32)
    dims = matrix.shape[0]
    # Row vectors: (R @ x)^T = x^T @ R^T.
    rotated = keypoint[..., :dims] @ matrix.astype(np.float32).T
    if keypoint.shape[-1] > dims:
        rotated = np.concatenate([rotated, keypoint[..., dims:]], axis=-1)
    return np.ascontiguousarray(rotated)


def _check_coord_dims(who: str, coord_dims) -> None:
    if coord_dims is not None and (not _is_int(coord_dims) or coord_dims < 1):
        raise ValueError(f'{who}: coord_dims must be None (every channel) or a positive int, '
                         f'got {coord_dims!r}')


def resize_time_linear(x: np.ndarray, length: int, axis: int = 1) -> np.ndarray:
    """Linear resampling along one axis, identical to torch's
    ``F.interpolate(mode='bilinear', align_corners=False)`` applied along that axis only
    (the coordinates come from :func:`~gfp_mmaction.utils.skeleton_math.linear_resample_coords`).

    Args:
        x (np.ndarray): any array with ``L_in >= 1`` entries along ``axis``.
        length (int): ``L_out >= 1``.
        axis (int): the resampled axis. Defaults to 1.

    Returns:
        np.ndarray: same shape as ``x`` except ``L_out`` along ``axis``; float32.
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float32), axis, 0)
    i0, i1, lam = linear_resample_coords(x.shape[0], length)
    lam = lam.astype(np.float32).reshape((length, ) + (1, ) * (x.ndim - 1))
    out = x[i0] * (1 - lam) + x[i1] * lam
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))


@TRANSFORMS.register_module()
class CentreOnFirstFrame(BaseTransform):
    """Translate the clip so that one joint of the first frame is the origin (SGN / MAMP).

    The origin is joint ``joint`` (1 = spine-middle in NTU order) of person 0 in the first
    frame where person 0 has any non-zero joint. It is subtracted from every person and
    frame; then every (person, frame) that was entirely zero before (a missing body or
    padding) is set back to zero, so absent bodies stay exactly zero.

    If person 0 is empty throughout but another person is not, the first non-empty person
    gives the origin instead (the reference code would index past the clip there).

    With ``coord_dims`` set, only the first ``coord_dims`` channels are coordinates: they
    alone decide presence and are centred; later channels (a ``keypoint_score`` already
    appended, as MMAction2's ``GenSkeFeat`` does) are copied unchanged.

    Required keys: ``keypoint`` ``(M, T, V, C)``. Modified keys: ``keypoint`` (float32).

    Args:
        joint (int): index of the origin joint (1 = NTU-25's spine-middle, 11 = COCO-17's
            left hip: the ``centre_joint`` of :mod:`gfp_mmaction.utils.joint_layouts`).
            Defaults to 1.
        coord_dims (int, optional): how many leading channels are coordinates; None =
            all of them. Defaults to None.
    """

    def __init__(self, joint: int = 1, coord_dims: Optional[int] = None) -> None:
        if not _is_int(joint) or joint < 0:
            raise ValueError(f'CentreOnFirstFrame: joint must be a non-negative int, got {joint!r}')
        _check_coord_dims('CentreOnFirstFrame', coord_dims)
        self.joint = int(joint)
        self.coord_dims = None if coord_dims is None else int(coord_dims)

    def transform(self, results: Dict) -> Dict:
        keypoint = _get_keypoint(results, 'CentreOnFirstFrame')
        M, T, V, C = keypoint.shape
        if self.joint >= V:
            raise ValueError(
                f'CentreOnFirstFrame: sample {_sample_name(results)!r}: origin joint {self.joint} '
                f'is out of range for field "keypoint" with {V} joints')
        dims = C if self.coord_dims is None else self.coord_dims
        if dims > C:
            raise ValueError(
                f'CentreOnFirstFrame: sample {_sample_name(results)!r}: coord_dims={dims} but '
                f'field "keypoint" {keypoint.shape} has {C} channels')
        coords = keypoint[..., :dims].astype(np.float32)
        if not coords.any():
            raise ValueError(
                f'CentreOnFirstFrame: sample {_sample_name(results)!r}: field "keypoint" '
                f'{keypoint.shape} is all zeros; expected at least one non-empty frame')
        # The origin: person 0 unless it is empty throughout, its first present frame.
        centred = centre_on_first_frame(coords[None], self.joint)[0]
        if dims < C:
            centred = np.concatenate([centred, keypoint[..., dims:].astype(np.float32)], -1)
        results['keypoint'] = centred
        return results

    def __repr__(self) -> str:
        extra = '' if self.coord_dims is None else f', coord_dims={self.coord_dims}'
        return f'{self.__class__.__name__}(joint={self.joint}{extra})'


@TRANSFORMS.register_module()
class ValidCropResize(BaseTransform):
    """Crop the valid frames and resize them to ``clip_len`` (MAMP's ``valid_crop_resize``).

    ``valid`` = number of frames up to and including the last frame where any person has
    a non-zero joint, also bounded by ``results['total_frames']`` when present.

    - Test (``len(p_interval) == 1``): centre crop. ``bias = int((1 - p) * valid / 2)``,
      frames ``[bias, valid - bias)``.
    - Train (``p_interval = (lo, hi)``): ``p ~ U(lo, hi)``,
      ``length = min(max(floor(valid * p), min_frames), valid)``, start uniform in
      ``[0, valid - length]``.

    The crop is then resampled to ``clip_len`` frames with :func:`resize_time_linear`
    (torch's bilinear, ``align_corners=False``, along time only).

    Required keys: ``keypoint`` ``(M, T, V, C)``; optional ``total_frames``,
    ``keypoint_score`` ``(M, T, V)`` (cropped and resized alike).
    Modified keys: ``keypoint`` ``(M, clip_len, V, C)`` float32, ``total_frames = clip_len``.

    Args:
        clip_len (int): output frames. Defaults to 120.
        p_interval (Sequence[float]): one value (centre crop) or ``(lo, hi)`` with
            ``0 < lo <= hi <= 1`` (random crop). Defaults to ``(0.5, 1.0)``.
        min_frames (int): lower bound of a random crop's length. Defaults to 64.
    """

    def __init__(self,
                 clip_len: int = 120,
                 p_interval: Sequence[float] = (0.5, 1.0),
                 min_frames: int = 64) -> None:
        if not _is_int(clip_len) or clip_len <= 0:
            raise ValueError(f'ValidCropResize: clip_len must be a positive int, got {clip_len!r}')
        if isinstance(p_interval, (int, float)):
            p_interval = (p_interval, )
        p_interval = tuple(p_interval)
        if len(p_interval) not in (1, 2) or not all(_is_real(p) and 0 < p <= 1 for p in p_interval):
            raise ValueError('ValidCropResize: p_interval must hold one or two values in (0, 1], '
                             f'got {p_interval!r}')
        if len(p_interval) == 2 and p_interval[0] > p_interval[1]:
            raise ValueError('ValidCropResize: p_interval must be (low, high) with low <= high, '
                             f'got {p_interval!r}')
        if not _is_int(min_frames) or min_frames <= 0:
            raise ValueError(
                f'ValidCropResize: min_frames must be a positive int, got {min_frames!r}')
        self.clip_len = int(clip_len)
        self.p_interval = tuple(float(p) for p in p_interval)
        self.min_frames = int(min_frames)

    @staticmethod
    def valid_frames(keypoint: np.ndarray) -> int:
        """Frames up to and including the last one where any person is non-zero."""
        return int(valid_frames(keypoint[None])[0])

    def draw(self) -> tuple:
        """The crop's uniform draws ``(u_p, u_start)``; none for a centre crop."""
        return (None, None) if len(self.p_interval) == 1 else tuple(np.random.rand(2))

    def crop_range(self, valid: int, draws: tuple = None) -> tuple:
        """``(start, stop)`` of the crop among the ``valid`` frames, from ``draws``
        (:meth:`draw` when not given); see
        :func:`~gfp_mmaction.utils.skeleton_math.crop_window`."""
        u_p, u_start = self.draw() if draws is None else draws
        start, length = crop_window(valid, u_p, u_start, self.p_interval, self.min_frames)
        return int(start), int(start + length)

    def transform(self, results: Dict) -> Dict:
        keypoint = _get_keypoint(results, 'ValidCropResize')
        valid = self.valid_frames(keypoint)
        if 'total_frames' in results:
            valid = min(valid, int(results['total_frames']))
        if valid <= 0:
            raise ValueError(
                f'ValidCropResize: sample {_sample_name(results)!r}: field "keypoint" '
                f'{keypoint.shape} (total_frames={results.get("total_frames")}) has no valid '
                'frame; expected at least one frame with a non-zero joint')
        start, stop = self.crop_range(valid)  # never empty: bias < valid / 2, length >= 1
        results['keypoint'] = resize_time_linear(keypoint[:, start:stop], self.clip_len, axis=1)
        if 'keypoint_score' in results:
            results['keypoint_score'] = resize_time_linear(
                np.asarray(results['keypoint_score'])[:, start:stop], self.clip_len, axis=1)
        results['total_frames'] = self.clip_len
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(clip_len={self.clip_len}, '
                f'p_interval={self.p_interval}, min_frames={self.min_frames})')


class _RandomRotation(BaseTransform):
    """What :class:`RandomRotation3D` and :class:`RandomRotation2D` share: the argument
    ``max_angle`` and the transform, which rotates the first :attr:`coord_dims` channels
    of every joint by the matrix of one random draw (:meth:`random_matrix`)."""

    coord_dims: int  # the channels rotated: 3 or 2
    # Appended to the error for keypoints with fewer than ``coord_dims`` channels.
    wrong_dims_hint = ''

    def __init__(self, max_angle: float = 0.3) -> None:
        if not _is_real(max_angle) or max_angle < 0:
            raise ValueError(f'{self.__class__.__name__}: max_angle must be a finite number '
                             f'>= 0, got {max_angle!r}')
        self.max_angle = float(max_angle)

    def random_matrix(self) -> np.ndarray:
        """The rotation of one random draw (``np.random``)."""
        raise NotImplementedError

    def transform(self, results: Dict) -> Dict:
        name = self.__class__.__name__
        keypoint = _get_keypoint(results, name)
        if keypoint.shape[-1] < self.coord_dims:
            raise ValueError(
                f'{name}: sample {_sample_name(results)!r}: field "keypoint" must hold '
                f'{self.coord_dims}D coordinates (last dim {self.coord_dims}), got shape '
                f'{keypoint.shape}{self.wrong_dims_hint}')
        results['keypoint'] = rotate_coords(keypoint, self.random_matrix())
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(max_angle={self.max_angle})'


@TRANSFORMS.register_module()
class RandomRotation3D(_RandomRotation):
    """Rotate the whole clip by one random 3D rotation (MAMP's ``random_rot``).

    One angle per axis ``~ U(-max_angle, max_angle)`` (radians), ``R = Rz @ Ry @ Rx``
    (see :meth:`rotation_matrix`), applied as ``x' = R @ x`` to every joint of every
    person and frame. Zero (absent) joints stay zero. Channels after the first three (a
    score) are copied unchanged. For 2D keypoints use :class:`RandomRotation2D`.

    Required keys: ``keypoint`` ``(M, T, V, C)``, ``C >= 3``. Modified keys: ``keypoint``
    (float32).

    Args:
        max_angle (float): largest absolute angle per axis, radians. Defaults to 0.3.
    """

    coord_dims = 3
    wrong_dims_hint = '; for 2D keypoints use RandomRotation2D'

    @staticmethod
    def rotation_matrix(angles: Sequence[float]) -> np.ndarray:
        """``R = Rz @ Ry @ Rx`` for angles ``(ax, ay, az)``, MAMP's sign conventions
        (:func:`~gfp_mmaction.utils.skeleton_math.rotation_matrix`). Returns ``(3, 3)``
        float64."""
        return rotation_matrix(np.asarray(angles, dtype=np.float64))

    def angles(self, u: np.ndarray) -> np.ndarray:
        """Angles ``-max_angle + 2 * max_angle * u`` from three uniform draws ``u``."""
        return -self.max_angle + 2 * self.max_angle * np.asarray(u, dtype=np.float64)

    def random_matrix(self) -> np.ndarray:
        return self.rotation_matrix(self.angles(np.random.rand(3)))


@TRANSFORMS.register_module()
class RandomRotation2D(_RandomRotation):
    """Rotate 2D keypoints in the image plane by one random angle (about the image normal).

    The angle ``~ U(-max_angle, max_angle)`` (radians) gives
    ``R = [[cos, sin], [-sin, cos]]``, MAMP's ``Rz`` restricted to ``(x, y)``
    (:func:`~gfp_mmaction.utils.skeleton_math.rotation_matrix_2d`), applied as
    ``x' = R @ x`` to every joint of every person and frame. Zero (absent) joints stay
    zero. Channels after the first two (a ``keypoint_score`` already appended) are copied
    unchanged; a separate ``keypoint_score`` field is not touched.

    Required keys: ``keypoint`` ``(M, T, V, C)``, ``C >= 2``. Modified keys: ``keypoint``
    (float32).

    Args:
        max_angle (float): largest absolute angle, radians. Defaults to 0.3.
    """

    coord_dims = 2

    @staticmethod
    def rotation_matrix(angle: float) -> np.ndarray:
        """``[[cos, sin], [-sin, cos]]`` of ``angle``, ``(2, 2)`` float64."""
        return rotation_matrix_2d(np.asarray(angle, dtype=np.float64))

    def angle(self, u: float) -> float:
        """The angle ``-max_angle + 2 * max_angle * u`` from one uniform draw ``u``."""
        return float(-self.max_angle + 2 * self.max_angle * float(u))

    def random_matrix(self) -> np.ndarray:
        return self.rotation_matrix(self.angle(np.random.rand()))
