"""Skeleton tensor math shared by the data transforms (numpy) and the models (torch).

Every function takes a numpy array or a torch tensor and returns the same kind, using
only operations both libraries spell alike, so the masking transform and the target
generator compute motion and patches with one definition (tests check both forms agree).

Shapes use ``T`` frames, ``V`` joints, ``C`` coordinates, ``l`` the patch length,
``T_e = T // l`` patch rows and any number of leading batch dimensions ``...``.
A token is one joint's track over ``l`` frames; tokens are ordered row-major over
``(T_e, V)``, i.e. token ``t * V + v``.

The augmentation and masking math (valid frames, centring, crop window, linear
resampling, rotation, motion-aware scores) takes its random draws as arguments, uniform
numbers in ``[0, 1)``: the per-sample numpy transforms draw them from numpy's global
generator, the batched data preprocessor from :mod:`gfp_mmaction.utils.counter_rng`, and
the same draws give the same result in both.
"""
import numpy as np
import torch

__all__ = [
    'patchify', 'frame_motion', 'token_motion_magnitude', 'temporal_avg_pool',
    'valid_frames', 'first_presence', 'centre_on_first_frame', 'crop_window',
    'linear_resample_coords', 'rotation_matrix', 'rotation_matrix_2d',
    'motion_aware_log_prob', 'gumbel'
]


def _is_numpy(x) -> bool:
    return type(x).__module__.startswith('numpy')


def _xp(x):
    """The array library of ``x``: numpy for numpy arrays and scalars, else torch."""
    return np if _is_numpy(x) or isinstance(x, (int, float)) else torch


def _amax(x, axis: int, keepdims: bool = False):
    if _is_numpy(x):
        return x.max(axis=axis, keepdims=keepdims)
    return x.amax(dim=axis, keepdim=keepdims)


def _any(x, axis):
    if _is_numpy(x):
        return x.any(axis=axis)
    return torch.any(x, dim=axis)


def _stack(items, axis: int):
    if _is_numpy(items[0]):
        return np.stack(items, axis=axis)
    return torch.stack(items, dim=axis)


def patchify(x, patch_len: int):
    """Cut every joint's track into temporal patches.

    Args:
        x (np.ndarray | torch.Tensor): ``(..., T, V, C)`` with ``T`` divisible by
            ``patch_len``.
        patch_len (int): frames per patch ``l``.

    Returns:
        np.ndarray | torch.Tensor: ``(..., T_e, V, l * C)``; the last axis is frame-major
        (frame 0's xyz first).
    """
    *lead, T, V, C = x.shape
    if T % patch_len:
        raise ValueError(f'patchify: {T} frames are not divisible by patch length {patch_len}')
    x = x.reshape(*lead, T // patch_len, patch_len, V, C)
    x = x.swapaxes(-3, -2)  # (..., T_e, V, l, C)
    return x.reshape(*lead, T // patch_len, V, patch_len * C)


def frame_motion(x):
    """Frame-level motion ``x[t + 1] - x[t]``; the last frame's motion is 0.

    Args:
        x (np.ndarray | torch.Tensor): ``(..., T, V, C)``.

    Returns:
        np.ndarray | torch.Tensor: ``(..., T, V, C)``, same dtype.
    """
    motion = x * 0
    motion[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]
    return motion


def token_motion_magnitude(patches):
    """MAMP's per-token motion: mean over a patch's values of ``|p[t] - p[t-1]|``.

    The lag is one patch row (patch-level); row 0 copies row 1 so that the first
    row is not always "still".

    Args:
        patches (np.ndarray | torch.Tensor): ``(..., T_e, V, P)`` as returned by
            :func:`patchify`, ``T_e >= 2``.

    Returns:
        np.ndarray | torch.Tensor: ``(..., T_e, V)``.
    """
    delta = abs(patches[..., 1:, :, :] - patches[..., :-1, :, :])
    delta = delta.mean(axis=-1) if _is_numpy(delta) else delta.mean(dim=-1)  # (..., T_e - 1, V)
    first = delta[..., :1, :]
    if _is_numpy(delta):
        return np.concatenate([first, delta], axis=-2)
    return torch.cat([first, delta], dim=-2)


def temporal_avg_pool(x, kernel: int):
    """Non-overlapping average pooling over the patch-row axis.

    Args:
        x (np.ndarray | torch.Tensor): ``(..., T_e, V, C)`` with ``T_e`` divisible by
            ``kernel``.
        kernel (int): rows averaged into one.

    Returns:
        np.ndarray | torch.Tensor: ``(..., T_e // kernel, V, C)``.
    """
    *lead, rows, V, C = x.shape
    if rows % kernel:
        raise ValueError(f'temporal_avg_pool: {rows} patch rows are not divisible by kernel '
                         f'{kernel}')
    x = x.reshape(*lead, rows // kernel, kernel, V, C)
    if _is_numpy(x):
        return x.mean(axis=-3)
    return x.mean(dim=-3)


def valid_frames(keypoint):
    """Frames up to and including the last one where any person has a non-zero joint.

    Args:
        keypoint (np.ndarray | torch.Tensor): ``(B, M, T, V, C)``.

    Returns:
        np.ndarray | torch.Tensor: ``(B,)`` integers (0 for an all-zero clip).
    """
    T = keypoint.shape[2]
    nonzero = _any(keypoint != 0, (1, 3, 4))  # (B, T)
    frame_no = _xp(keypoint).arange(1, T + 1)
    return _amax(_xp(keypoint).where(nonzero, frame_no, 0), -1)


def first_presence(keypoint):
    """Where each clip's centring origin lies: the first person that is present anywhere
    (person 0 unless it is empty throughout) and that person's first present frame.

    Args:
        keypoint (np.ndarray | torch.Tensor): ``(B, M, T, V, C)``; a (person, frame) is
            present when any of its values is non-zero.

    Returns:
        tuple: ``(person, frame)``, each ``(B,)`` integers (0 for an all-zero clip), of
        ``keypoint``'s kind.
    """
    xp = _xp(keypoint)
    M, T = keypoint.shape[1:3]
    present = _any(keypoint != 0, (3, 4))  # (B, M, T)
    person_present = _any(present, 2)  # (B, M)
    # The first True along an axis: the largest of -position over the True entries.
    person = -_amax(xp.where(person_present, -xp.arange(M), -M), -1)
    person = xp.where(person == M, 0, person)
    first_present = present[xp.arange(keypoint.shape[0]), person]  # (B, T)
    frame = -_amax(xp.where(first_present, -xp.arange(T), -T), -1)
    return person, xp.where(frame == T, 0, frame)


def centre_on_first_frame(keypoint, joint: int):
    """Translate every clip so that one joint of its first frame is the origin (SGN / MAMP).

    The origin is joint ``joint`` at :func:`first_presence`. It is subtracted from every
    person and frame; every (person, frame) that was entirely zero (a missing body,
    padding) stays exactly zero.

    Args:
        keypoint (np.ndarray | torch.Tensor): ``(B, M, T, V, C)`` float.
        joint (int): index of the origin joint (1 = spine-middle in NTU order).

    Returns:
        np.ndarray | torch.Tensor: ``(B, M, T, V, C)``, same dtype. An all-zero clip is
        returned unchanged.
    """
    xp = _xp(keypoint)
    person, frame = first_presence(keypoint)
    origin = keypoint[xp.arange(keypoint.shape[0]), person, frame, joint]  # (B, C)
    present = _any(keypoint != 0, (3, 4))  # (B, M, T)
    centred = keypoint - origin[:, None, None, None, :]
    return xp.where(present[..., None, None], centred, keypoint * 0)


def crop_window(valid, u_p, u_start, p_interval, min_frames: int):
    """The frames a clip is cropped to before resizing (MAMP's ``valid_crop_resize``).

    - One ``p`` (test): centre crop, ``bias = floor((1 - p) * valid / 2)``, frames
      ``[bias, valid - bias)``; the draws are not used.
    - ``(lo, hi)`` (train): ``p = lo + (hi - lo) * u_p``,
      ``length = min(max(floor(valid * p), min_frames), valid)``,
      ``start = floor(u_start * (valid - length + 1))``, uniform over the possible starts.

    Args:
        valid (int | np.ndarray | torch.Tensor): valid frames ``(...)``, integers ``>= 1``
            (scalar or array).
        u_p (np.ndarray | torch.Tensor): uniform draw in ``[0, 1)``, float64, same shape as
            ``valid``.
        u_start (np.ndarray | torch.Tensor): uniform draw in ``[0, 1)``, float64, same shape
            as ``valid``.
        p_interval (Sequence[float]): ``(p,)`` or ``(lo, hi)``.
        min_frames (int): shortest random crop.

    Returns:
        tuple: ``(start, length)``, integers of ``valid``'s shape (int64 arrays or long
        tensors).
    """
    xp = _xp(valid)
    valid_f = np.asarray(valid, dtype=np.float64) if xp is np else valid.double()
    if len(p_interval) == 1:
        bias = xp.floor((1 - p_interval[0]) * valid_f / 2)
        start, length = bias, valid_f - 2 * bias
    else:
        low, high = p_interval
        p = u_p * (high - low) + low
        length = xp.floor(valid_f * p)
        length = xp.where(length > min_frames, length, min_frames * 1.0)
        length = xp.where(length < valid_f, length, valid_f)
        start = xp.floor(u_start * (valid_f - length + 1))
    if xp is np:
        return np.asarray(start).astype(np.int64), np.asarray(length).astype(np.int64)
    return start.long(), length.long()


def linear_resample_coords(length, out_len: int):
    """Where output frame ``i`` of a linear resampling from ``length`` frames reads.

    Torch's ``F.interpolate(mode='bilinear', align_corners=False)`` along one axis:
    ``src = max((i + 0.5) * length / out_len - 0.5, 0)``; output ``i`` blends frames
    ``i0 = floor(src)`` and ``i1 = min(i0 + 1, length - 1)`` with weight ``lam = src - i0``
    on ``i1``. ``src`` is computed in float64.

    Args:
        length (int | np.ndarray | torch.Tensor): source frames ``(...)``, integers
            ``>= 1``.
        out_len (int): output frames.

    Returns:
        tuple: ``(i0, i1, lam)``, each ``(..., out_len)``; ``i0`` and ``i1`` int64,
        ``lam`` float64.
    """
    xp = _xp(length)
    if xp is np:
        length = np.asarray(length, dtype=np.float64)
        i = np.arange(out_len, dtype=np.float64)
    else:
        length = length.double()
        i = torch.arange(out_len, dtype=torch.float64, device=length.device)
    scale = length[..., None] / out_len
    src = (i + 0.5) * scale - 0.5
    src = xp.where(src > 0, src, src * 0)
    i0 = xp.floor(src)
    i1 = xp.where(i0 + 1 < length[..., None], i0 + 1, length[..., None] - 1)
    lam = src - i0
    if xp is np:
        return i0.astype(np.int64), i1.astype(np.int64), lam
    return i0.long(), i1.long(), lam


def rotation_matrix(angles):
    """``R = Rz @ Ry @ Rx`` for angles ``(..., 3) = (ax, ay, az)`` (MAMP's conventions):
    ``Rx = [[1,0,0],[0,c,s],[0,-s,c]]``, ``Ry = [[c,0,-s],[0,1,0],[s,0,c]]``,
    ``Rz = [[c,s,0],[-s,c,0],[0,0,1]]``. A point rotates as ``x' = R @ x``.

    Args:
        angles (np.ndarray | torch.Tensor): ``(..., 3)`` rotation angles
            ``(ax, ay, az)``, radians.

    Returns:
        np.ndarray | torch.Tensor: ``(..., 3, 3)``, the dtype of ``angles``.
    """
    xp = _xp(angles)
    c, s = xp.cos(angles), xp.sin(angles)
    one, zero = c[..., 0] * 0 + 1, c[..., 0] * 0

    def matrix(rows):
        return _stack([_stack(row, -1) for row in rows], -2)

    (cx, cy, cz), (sx, sy, sz) = (c[..., k] for k in range(3)), (s[..., k] for k in range(3))
    rx = matrix([[one, zero, zero], [zero, cx, sx], [zero, -sx, cx]])
    ry = matrix([[cy, zero, -sy], [zero, one, zero], [sy, zero, cy]])
    rz = matrix([[cz, sz, zero], [-sz, cz, zero], [zero, zero, one]])
    return rz @ ry @ rx


def rotation_matrix_2d(angle):
    """The in-plane rotation of 2D keypoints about the image normal: ``angle`` ``(...)``
    -> ``R = [[c, s], [-s, c]]`` ``(..., 2, 2)``, the ``(x, y)`` block of
    :func:`rotation_matrix`'s ``Rz`` (MAMP's sign convention), so a 3D clip rotated by
    ``(0, 0, angle)`` and projected orthographically along z equals its projection
    rotated by ``angle``. A point rotates as ``x' = R @ x``.

    Args:
        angle (np.ndarray | torch.Tensor): ``(...)`` rotation angles, radians.

    Returns:
        np.ndarray | torch.Tensor: ``(..., 2, 2)``, the dtype of ``angle``.
    """
    c, s = _xp(angle).cos(angle), _xp(angle).sin(angle)
    return _stack([_stack([c, s], -1), _stack([-s, c], -1)], -2)


def motion_aware_log_prob(keypoint, patch_len: int, tau: float):
    """MAMP's masking distribution: ``log softmax(m / (max(m) * tau + 1e-10))`` over the
    tokens of each sequence, ``m`` = :func:`token_motion_magnitude` of the joint patches.

    Args:
        keypoint (np.ndarray | torch.Tensor): ``(..., T, V, C)`` with
            ``T // patch_len >= 2``.
        patch_len (int): frames per token.
        tau (float): temperature ``> 0``.

    Returns:
        np.ndarray | torch.Tensor: ``(..., L)`` log-probabilities,
        ``L = (T // patch_len) * V``; uniform for an all-zero sequence.
    """
    lead = keypoint.shape[:-3]
    motion = token_motion_magnitude(patchify(keypoint, patch_len))
    motion = motion.reshape(*lead, -1)  # (..., L)
    motion = motion / (_amax(motion, -1, keepdims=True) * tau + 1e-10)
    # log(softmax(m)) = m - logsumexp(m); m lies in [0, 1/tau], so no overflow.
    shifted = motion - _amax(motion, -1, keepdims=True)
    xp = _xp(keypoint)
    total = xp.exp(shifted).sum(-1, keepdims=True) if xp is np else \
        shifted.exp().sum(-1, keepdim=True)
    return shifted - xp.log(total)


def gumbel(u):
    """Gumbel noise from uniform draws: ``-log(-log(u + 1e-10) + 1e-10)`` (MAMP's)."""
    xp = _xp(u)
    return -xp.log(-xp.log(u + 1e-10) + 1e-10)
