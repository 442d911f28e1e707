"""Skeleton tensor math shared by the data transforms (numpy) and the models (torch).

Every function takes a numpy array or a torch tensor and returns the same kind, using
only operations both libraries spell alike, so the masking transform and the target
generator compute motion and patches with one definition (tests check both forms agree).

Shapes use ``T`` frames, ``V`` joints, ``C`` coordinates, ``l`` the patch length,
``T_e = T // l`` patch rows and any number of leading batch dimensions ``...``.
A token is one joint's track over ``l`` frames; tokens are ordered row-major over
``(T_e, V)``, i.e. token ``t * V + v``.
"""

__all__ = ['patchify', 'frame_motion', 'token_motion_magnitude', 'temporal_avg_pool']


def _is_numpy(x) -> bool:
    return type(x).__module__.startswith('numpy')


def patchify(x, patch_len: int):
    """Cut every joint's track into temporal patches.

    Args:
        x: ``(..., T, V, C)`` with ``T`` divisible by ``patch_len``.
        patch_len: frames per patch ``l``.

    Returns:
        ``(..., T_e, V, l * C)``; the last axis is frame-major (frame 0's xyz first).
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
        x: ``(..., T, V, C)``.

    Returns:
        ``(..., T, V, C)``, same dtype.
    """
    motion = x * 0
    motion[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]
    return motion


def token_motion_magnitude(patches):
    """MAMP's per-token motion: mean over a patch's values of ``|p[t] - p[t-1]|``.

    The lag is one patch row (patch-level); row 0 copies row 1 so that the first
    row is not always "still".

    Args:
        patches: ``(..., T_e, V, P)`` as returned by :func:`patchify`, ``T_e >= 2``.

    Returns:
        ``(..., T_e, V)``.
    """
    delta = patches * 0
    delta[..., 1:, :, :] = abs(patches[..., 1:, :, :] - patches[..., :-1, :, :])
    delta[..., 0, :, :] = delta[..., 1, :, :]
    if _is_numpy(delta):
        return delta.mean(axis=-1)
    return delta.mean(dim=-1)


def temporal_avg_pool(x, kernel: int):
    """Non-overlapping average pooling over the patch-row axis.

    Args:
        x: ``(..., T_e, V, C)`` with ``T_e`` divisible by ``kernel``.
        kernel: rows averaged into one.

    Returns:
        ``(..., T_e // kernel, V, C)``.
    """
    *lead, rows, V, C = x.shape
    if rows % kernel:
        raise ValueError(f'temporal_avg_pool: {rows} patch rows are not divisible by kernel {kernel}')
    x = x.reshape(*lead, rows // kernel, kernel, V, C)
    if _is_numpy(x):
        return x.mean(axis=-3)
    return x.mean(dim=-3)
