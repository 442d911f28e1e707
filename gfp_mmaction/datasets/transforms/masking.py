"""Token masks for masked skeleton modelling, drawn per sample in the data pipeline.

A token is one joint's track over ``patch_len`` frames; a sequence of ``T`` frames and
``V`` joints has ``L = (T // patch_len) * V`` tokens, ordered row-major over
``(T_e, V)`` (token ``t * V + v``), as in :mod:`gfp_mmaction.utils.skeleton_math`.

The transforms run after ``FormatGCNInput`` (``keypoint`` ``(1, M, T, V, C)``) but accept
any leading dims; every sequence (every person) gets its own mask. The output
``results['token_mask']`` is bool ``(..., L)``, ``True`` = masked (hidden from the
encoder), with exactly ``num_visible = round(L * (1 - mask_ratio))`` ``False`` entries
per sequence, so visible tokens form a dense batch. ``PackActionInputs`` with
``algorithm_keys=('token_mask',)`` moves it into the data sample.

Random draws use numpy's global generator so MMEngine's seeding covers them.
"""
from typing import Dict

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ...utils.skeleton_math import gumbel, motion_aware_log_prob
from .preprocess import _is_int, _is_real, _sample_name

__all__ = ['BaseTokenMasking', 'RandomTokenMasking', 'MotionAwareTokenMasking']


class BaseTokenMasking(BaseTransform):
    """Shared part: checks, token counting and the mask from per-token scores.

    Subclasses implement :meth:`scores`; the ``num_visible`` tokens with the LOWEST
    score of each sequence stay visible, all others are masked.

    Args:
        mask_ratio (float): fraction of masked tokens, in (0, 1).
        patch_len (int): frames per token.
        visible_rounding (str): ``'round'`` (default): ``round(L * (1 - mask_ratio))``
            visible tokens, 75 of 750; ``'floor'``: MAMP's ``int(L * (1 - mask_ratio))``,
            74 of 750 (float rounding).
    """

    min_patch_rows = 1  # patch rows T // patch_len a sequence needs for the scores

    def __init__(self, mask_ratio: float = 0.9, patch_len: int = 4,
                 visible_rounding: str = 'round') -> None:
        name = type(self).__name__
        if visible_rounding not in ('round', 'floor'):
            raise ValueError(f"{name}: visible_rounding must be 'round' or 'floor', got "
                             f'{visible_rounding!r}')
        self.visible_rounding = visible_rounding
        if not _is_real(mask_ratio) or not 0 < mask_ratio < 1:
            raise ValueError(f'{name}: mask_ratio must be in (0, 1), got {mask_ratio!r}')
        if not _is_int(patch_len) or patch_len <= 0:
            raise ValueError(f'{name}: patch_len must be a positive int, got {patch_len!r}')
        self.mask_ratio = float(mask_ratio)
        self.patch_len = int(patch_len)

    def num_visible(self, num_tokens: int) -> int:
        """``round(L * (1 - mask_ratio))``: 75 of 750 at ratio 0.9; with
        ``visible_rounding='floor'`` MAMP's ``int(L * (1 - mask_ratio))``: 74."""
        if self.visible_rounding == 'floor':
            return int(num_tokens * (1 - self.mask_ratio))
        return int(round(num_tokens * (1 - self.mask_ratio)))

    def scores(self, keypoint: np.ndarray, u: np.ndarray = None) -> np.ndarray:
        """Per-token scores ``(..., L)`` float64 for ``keypoint`` ``(..., T, V, C)``;
        lower = more likely visible. ``u``: the uniform draws ``(..., L)`` to use
        (None: draw from numpy's global generator)."""
        raise NotImplementedError

    def mask_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """True (masked) everywhere except the ``num_visible`` lowest scores of each
        sequence."""
        num_visible = self.num_visible(scores.shape[-1])
        # The num_visible lowest scores, unordered; argpartition is O(L).
        keep = np.argpartition(scores, num_visible - 1, axis=-1)[..., :num_visible]
        mask = np.ones(scores.shape, dtype=bool)
        np.put_along_axis(mask, keep, False, axis=-1)
        return mask

    def transform(self, results: Dict) -> Dict:
        name = type(self).__name__
        if 'keypoint' not in results:
            raise KeyError(f'{name}: sample {_sample_name(results)!r} has no field "keypoint"')
        keypoint = np.asarray(results['keypoint'])
        if keypoint.ndim < 3:
            raise ValueError(f'{name}: sample {_sample_name(results)!r}: field "keypoint" must be '
                             f'(..., T, V, C), got shape {keypoint.shape}')
        T, V = keypoint.shape[-3:-1]
        if T // self.patch_len < self.min_patch_rows:  # checked first: the clearer message
            raise ValueError(f'{name}: sample {_sample_name(results)!r}: field "keypoint" has '
                             f'{T} frames, fewer than {self.min_patch_rows} patches of '
                             f'{self.patch_len} frames')
        if T % self.patch_len:
            raise ValueError(f'{name}: sample {_sample_name(results)!r}: field "keypoint" has '
                             f'{T} frames, not divisible by patch_len={self.patch_len}')
        num_tokens = (T // self.patch_len) * V
        num_visible = self.num_visible(num_tokens)
        if num_visible < 1:
            raise ValueError(f'{name}: sample {_sample_name(results)!r}: {num_tokens} tokens at '
                             f'mask_ratio={self.mask_ratio} leave no visible token')
        results['token_mask'] = self.mask_from_scores(self.scores(keypoint))
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(mask_ratio={self.mask_ratio}, patch_len={self.patch_len})'


@TRANSFORMS.register_module()
class RandomTokenMasking(BaseTokenMasking):
    """Uniform random masking: every token equally likely to stay visible.

    Required keys: ``keypoint`` ``(..., T, V, C)``. Added keys: ``token_mask``
    bool ``(..., L)``.

    Args:
        mask_ratio (float): fraction of masked tokens, in (0, 1). Defaults to 0.9.
        patch_len (int): frames per token. Defaults to 4.
        visible_rounding (str): ``'round'`` (75 of 750, default) or ``'floor'`` (MAMP's
            ``int()``: 74 of 750).
    """

    def scores(self, keypoint: np.ndarray, u: np.ndarray = None) -> np.ndarray:
        """The uniform draws ``u`` ``(..., L)`` themselves (drawn when not given)."""
        T, V = keypoint.shape[-3:-1]
        if u is None:
            u = np.random.rand(*keypoint.shape[:-3], (T // self.patch_len) * V)
        return u


@TRANSFORMS.register_module()
class MotionAwareTokenMasking(BaseTokenMasking):
    """MAMP's motion-aware masking: high-motion tokens are masked more often.

    Per sequence, with ``m`` the per-token motion of the raw joint patches
    (:func:`token_motion_magnitude` of :func:`patchify`), flattened to ``(..., L)``:
    ``m = m / (max_L(m) * tau + 1e-10)``, ``p = softmax(m)``, and the score is
    ``log(p) + g`` with Gumbel noise ``g = -log(-log(u + 1e-10) + 1e-10)``,
    ``u ~ U(0, 1)``. The lowest scores stay visible. An all-zero (padded) sequence has
    uniform ``p``, i.e. plain random masking.

    Required keys: ``keypoint`` ``(..., T, V, C)``. Added keys: ``token_mask``
    bool ``(..., L)``.

    Args:
        mask_ratio (float): fraction of masked tokens, in (0, 1). Defaults to 0.9.
        tau (float): temperature, > 0; smaller = stronger preference. Defaults to 0.8.
        patch_len (int): frames per token. Defaults to 4.
        visible_rounding (str): ``'round'`` (75 of 750, default) or ``'floor'`` (MAMP's
            ``int()``: 74 of 750).
    """

    def __init__(self, mask_ratio: float = 0.9, tau: float = 0.8, patch_len: int = 4,
                 visible_rounding: str = 'round') -> None:
        super().__init__(mask_ratio=mask_ratio, patch_len=patch_len,
                         visible_rounding=visible_rounding)
        if not _is_real(tau) or tau <= 0:
            raise ValueError(
                f'MotionAwareTokenMasking: tau must be a finite number > 0, got {tau!r}')
        self.tau = float(tau)

    min_patch_rows = 2  # motion compares consecutive patch rows

    def scores(self, keypoint: np.ndarray, u: np.ndarray = None) -> np.ndarray:
        """``log p + Gumbel(u)`` per token; ``u`` ``(..., L)`` uniform draws (drawn from
        numpy's global generator when not given)."""
        log_p = motion_aware_log_prob(keypoint.astype(np.float64), self.patch_len, self.tau)
        if u is None:
            u = np.random.rand(*log_p.shape)
        return log_p + gumbel(u)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mask_ratio={self.mask_ratio}, tau={self.tau}, '
                f'patch_len={self.patch_len})')
