"""MAMP's pre-training augmentation and token masking, batched on the training device."""
from typing import Dict, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.logging import MessageHub
from mmengine.model import BaseDataPreprocessor

from ...utils.counter_rng import sample_keys, uniform
from ...utils.skeleton_math import (
    crop_window,
    gumbel,
    linear_resample_coords,
    motion_aware_log_prob,
    rotation_matrix,
    rotation_matrix_2d,
)

__all__ = ['SkeletonPretrainPreprocessor', 'augmentation_draws']

# Counter layout of one sample's draws (utils.counter_rng): crop length, crop start,
# three rotation angles, then one draw per (person, token) for the masking scores.
_CROP_P, _CROP_START, _ANGLES, _TOKENS = 0, 1, 2, 5
# The 2D rotation (about the image normal) uses the third angle, the one of Rz.
_ANGLE_2D = 2
_ROTATIONS = {'3d': 3, '2d': 2, 'none': None}  # rotation -> coordinates it rotates


@torch.compiler.disable
def augmentation_draws(seed: int, epoch: int, index: torch.Tensor, num_person: int,
                       num_tokens: int) -> Dict[str, torch.Tensor]:
    """Every random number one batch's augmentation and masking use.

    A pure function of ``(seed, epoch, sample index)``: the same for a sample whatever
    the number of data-loader workers, processes or restarts.

    Args:
        seed (int): the run's seed.
        epoch (int): the training epoch.
        index (torch.Tensor): ``(B,)`` int64 dataset indices of the batch's samples.
        num_person (int): persons per sample ``M``.
        num_tokens (int): tokens per person ``L``.

    Returns:
        dict[str, torch.Tensor]: ``crop`` ``(B, 2)`` float64 (length, start), ``angles``
        ``(B, 3)`` float64 and ``tokens`` ``(B, M, L)`` float32, all uniform in ``[0, 1)``.
    """
    keys = sample_keys(seed, epoch, index)
    device = index.device
    small = uniform(keys, torch.arange(_TOKENS, device=device))
    tokens = uniform(keys, torch.arange(_TOKENS, _TOKENS + num_person * num_tokens,
                                        device=device), torch.float32)
    return dict(crop=small[:, _CROP_P:_ANGLES], angles=small[:, _ANGLES:_TOKENS],
                tokens=tokens.view(-1, num_person, num_tokens))


@MODELS.register_module()
class SkeletonPretrainPreprocessor(BaseDataPreprocessor):
    """Pre-training augmentation and token masking of whole batches, on the device.

    Takes the ragged batches of raw clips that
    :class:`~gfp_mmaction.datasets.SkeletonClipDataset` and ``skeleton_clip_collate`` make
    (``inputs`` = dict of ``keypoint`` ``(R, V, C)`` person-frame rows, their ``present``
    flags ``(R,)`` and, each ``(B,)``, ``row_offset``, ``num_frames``, ``num_persons``,
    ``valid_frames``, ``first_person``, ``first_frame`` and ``index``),
    copies them to the device (``non_blocking`` from pinned memory) and runs, per sample,
    exactly what MAMP's per-sample pipeline does (the numpy transforms in
    ``gfp_mmaction/datasets/transforms`` are its reference, tested to agree):

    1. person padding: a single actor gets a zero second body (``person_pad='zero'``,
       NTU-60, PKU-MMD) or is duplicated (``'loop'``, NTU-120);
    2. centring on joint ``centre_joint`` of the first frame (absent bodies stay zero);
    3. a crop of ``p ~ U(p_interval)`` of the valid frames (at least ``min_frames``),
       linearly resized to ``clip_len`` frames;

    Steps 1-3 read only the ``2 x clip_len`` source frames the resize blends, gathered
    from the rows: the origin, the presence and the valid length come with the batch.
    4. one random rotation: ``rotation='3d'`` (MAMP's), each of three angles
       ``~ U(-max_angle, max_angle)``, ``R = Rz @ Ry @ Rx``; ``'2d'``, for 2D keypoints,
       one angle about the image normal (the third draw, ``Rz``'s, on ``(x, y)``); or
       ``'none'``;
    5. token masking: ``'motion_aware'`` (MAMP's, temperature ``tau``) or ``'random'``;
       ``round(L * (1 - mask_ratio))`` tokens of each person stay visible.

    Channels: the first ``coord_dims`` channels of a row are coordinates (3 for NTU's 3D
    skeletons, 2 for MMPose's 2D keypoints); any later channel (MMAction2's
    ``keypoint_score``, appended by ``SkeletonClipDataset(with_score=True)`` as
    ``FormatGCNInput`` appends it) is cropped and resized with the clip but neither
    centred nor rotated, and enters the masking's motion like any channel (as it does
    after ``FormatGCNInput`` on the per-sample path).

    Every random number is drawn by :func:`augmentation_draws` from
    ``(seed, epoch, sample index)``; the seed is the run's (``torch.initial_seed()`` when
    the model is built, which MMEngine's ``randomness`` sets), saved in the model's state
    dict so that a resume keeps it. The epoch is read from MMEngine's message hub.

    Returns ``dict(inputs=(B, 1, M, clip_len, V, C) float32, data_samples=dict(
    visible_index=(B * M, L_vis) int64))``: the visible tokens' positions in increasing
    order, person-major, as ``MaskedSkeletonPretrainer`` takes them. Autocast is off
    inside: the augmentation runs in float32 (float64 for the crop arithmetic).

    Args:
        clip_len (int): frames after resizing. Defaults to 120.
        p_interval (Sequence[float]): ``(lo, hi)`` crop fraction range, or ``(p,)`` for
            a centre crop. Defaults to ``(0.5, 1.0)``.
        min_frames (int): shortest random crop. Defaults to 64.
        max_angle (float): largest rotation angle per axis, radians. Defaults to 0.3.
        centre_joint (int): the origin joint. Defaults to 1 (NTU spine-middle; COCO-17's
            layout centres on 11, the left hip: :mod:`gfp_mmaction.utils.joint_layouts`).
        coord_dims (int): coordinates per joint, 3 or 2; the row's later channels pass
            through. Defaults to 3.
        rotation (str): ``'3d'`` (needs ``coord_dims=3``), ``'2d'`` (needs
            ``coord_dims=2``) or ``'none'``. Defaults to ``'3d'``.
        num_person (int): persons per sample after padding ``M``. Defaults to 2.
        person_pad (str): ``'zero'`` or ``'loop'``. Defaults to ``'zero'``.
        masking (str): ``'motion_aware'`` or ``'random'``. Defaults to ``'motion_aware'``.
        mask_ratio (float): fraction of masked tokens. Defaults to 0.9.
        tau (float): motion-aware temperature. Defaults to 0.8.
        patch_len (int): frames per token. Defaults to 4.
        visible_rounding (str): visible tokens per person: ``'round'``,
            ``round(L * (1 - mask_ratio))`` = 75 of 750 (default), or ``'floor'``,
            MAMP's ``int(L * (1 - mask_ratio))`` = 74 of 750 (float rounding).
        seed (int, optional): the draws' seed; None = the run's seed.
        non_blocking (bool): asynchronous host-to-device copies. Defaults to True.
    """

    def __init__(self,
                 clip_len: int = 120,
                 p_interval: Sequence[float] = (0.5, 1.0),
                 min_frames: int = 64,
                 max_angle: float = 0.3,
                 centre_joint: int = 1,
                 coord_dims: int = 3,
                 rotation: str = '3d',
                 num_person: int = 2,
                 person_pad: str = 'zero',
                 masking: str = 'motion_aware',
                 mask_ratio: float = 0.9,
                 tau: float = 0.8,
                 patch_len: int = 4,
                 visible_rounding: str = 'round',
                 seed: Optional[int] = None,
                 non_blocking: bool = True) -> None:
        super().__init__(non_blocking=non_blocking)
        name = type(self).__name__
        p_interval = tuple(float(p) for p in p_interval)
        if len(p_interval) not in (1, 2) or not all(0 < p <= 1 for p in p_interval) \
                or p_interval[0] > p_interval[-1]:
            raise ValueError(f'{name}: p_interval must be (p,) or (lo, hi) with '
                             f'0 < lo <= hi <= 1, got {p_interval}')
        if clip_len % patch_len or clip_len // patch_len < 2:
            raise ValueError(f'{name}: clip_len={clip_len} must be a multiple of '
                             f'patch_len={patch_len} with at least 2 patches')
        if person_pad not in ('zero', 'loop'):
            raise ValueError(f"{name}: person_pad must be 'zero' or 'loop', got {person_pad!r}")
        if masking not in ('motion_aware', 'random'):
            raise ValueError(
                f"{name}: masking must be 'motion_aware' or 'random', got {masking!r}")
        if not 0 < mask_ratio < 1:
            raise ValueError(f'{name}: mask_ratio must be in (0, 1), got {mask_ratio!r}')
        if coord_dims not in (2, 3):
            raise ValueError(f'{name}: coord_dims must be 3 (3D skeletons) or 2 (2D '
                             f'keypoints), got {coord_dims!r}')
        if rotation not in _ROTATIONS:
            raise ValueError(f"{name}: rotation must be '3d', '2d' or 'none', got "
                             f'{rotation!r}')
        if _ROTATIONS[rotation] not in (None, coord_dims):
            raise ValueError(f"{name}: rotation={rotation!r} rotates "
                             f'{_ROTATIONS[rotation]} coordinates but coord_dims={coord_dims}; '
                             "use rotation='3d' with coord_dims=3, '2d' with coord_dims=2, "
                             "or 'none'")
        if not isinstance(centre_joint, int) or centre_joint < 0:
            raise ValueError(f'{name}: centre_joint must be a joint index >= 0, got '
                             f'{centre_joint!r}')
        if not tau > 0 or max_angle < 0 or min_frames < 1:
            raise ValueError(f'{name}: need tau > 0, max_angle >= 0 and min_frames >= 1, got '
                             f'tau={tau}, max_angle={max_angle}, min_frames={min_frames}')
        self.clip_len, self.p_interval, self.min_frames = clip_len, p_interval, min_frames
        self.max_angle, self.centre_joint = float(max_angle), centre_joint
        self.person_pad = person_pad
        self.coord_dims, self.rotation = coord_dims, rotation
        self.masking, self.mask_ratio, self.tau = masking, float(mask_ratio), float(tau)
        if visible_rounding not in ('round', 'floor'):
            raise ValueError(f"{name}: visible_rounding must be 'round' or 'floor', got "
                             f'{visible_rounding!r}')
        self.patch_len, self.num_person = patch_len, num_person
        self.visible_rounding = visible_rounding
        self.seed = int(torch.initial_seed() if seed is None else seed)

    # The seed travels with the model's state dict (``data_preprocessor._extra_state``), as
    # an int64 tensor: MMEngine broadcasts every state-dict entry from rank 0 at start-up.
    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor(self.seed, dtype=torch.int64)

    def set_extra_state(self, state) -> None:
        self.seed = int(state['seed'] if isinstance(state, dict) else state)

    def num_visible(self, num_tokens: int) -> int:
        """``round(L * (1 - mask_ratio))``: 75 of 750 at ratio 0.9; with
        ``visible_rounding='floor'`` MAMP's ``int(L * (1 - mask_ratio))``: 74."""
        if self.visible_rounding == 'floor':
            return int(num_tokens * (1 - self.mask_ratio))
        return int(round(num_tokens * (1 - self.mask_ratio)))

    @staticmethod
    def current_epoch() -> int:
        """The training epoch MMEngine's runner publishes (0 outside a runner)."""
        return int(MessageHub.get_current_instance().get_info('epoch', 0) or 0)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        batch = data.get('inputs')
        needed = ('keypoint', 'present', 'row_offset', 'num_frames', 'num_persons',
                  'valid_frames', 'first_person', 'first_frame', 'index')
        if not isinstance(batch, dict) or any(key not in batch for key in needed) \
                or not isinstance(batch['keypoint'], torch.Tensor):
            raise TypeError(
                f'{type(self).__name__} takes batches of raw clips: inputs=dict('
                f'{", ".join(needed)}) of tensors, as SkeletonClipDataset with '
                "collate_fn=dict(type='skeleton_clip_collate') makes them; got "
                f'{type(batch).__name__}' + (f' with keys {sorted(batch)}'
                                             if isinstance(batch, dict) else ''))
        keypoint = batch['keypoint']
        if keypoint.dim() != 3 or keypoint.shape[-1] < self.coord_dims:
            hint = (": a 2D file (x, y) needs coord_dims=2, rotation='2d'"
                    if keypoint.dim() == 3 and keypoint.shape[-1] == 2 else '')
            raise ValueError(f'{type(self).__name__}: keypoint must be rows (R, V, C) with '
                             f'C >= coord_dims={self.coord_dims}, got '
                             f'{tuple(keypoint.shape)}{hint}')
        if self.centre_joint >= keypoint.shape[1]:
            raise ValueError(f'{type(self).__name__}: centre_joint={self.centre_joint} is '
                             f'not a joint of rows with {keypoint.shape[1]} joints; set the '
                             "layout's centre joint (joint_layouts: ntu25 1, coco17 11)")
        M, V = self.num_person, keypoint.shape[1]
        num_tokens = self.clip_len // self.patch_len * V
        draws = augmentation_draws(self.seed, self.current_epoch(), batch['index'].long(), M,
                                   num_tokens)
        with torch.autocast(device_type=keypoint.device.type, enabled=False):
            joints = self.augment(keypoint, batch, draws)
            visible_index = self.visible_tokens(joints, draws['tokens'])
        return dict(inputs=joints[:, None], data_samples=dict(visible_index=visible_index))

    def augment(self, keypoint: torch.Tensor, batch: Dict[str, torch.Tensor],
                draws: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Steps 1-4: ``(R, V, C)`` rows of a ragged batch -> ``(B, M, clip_len, V, C)``."""
        B, M, V, C = len(batch['index']), self.num_person, keypoint.shape[1], keypoint.shape[2]
        D = self.coord_dims
        offset, frames = batch['row_offset'], batch['num_frames']
        persons = batch['num_persons']
        origin = keypoint[offset + batch['first_person'] * frames + batch['first_frame'],
                          self.centre_joint].float().view(B, 1, 1, 1, C)
        is_coord = torch.arange(C, device=keypoint.device) < D  # (C,)
        origin = torch.where(is_coord, origin, 0.0)  # channels after the coordinates: kept
        start, length = crop_window(batch['valid_frames'].clamp(min=1), draws['crop'][:, 0],
                                    draws['crop'][:, 1], self.p_interval, self.min_frames)
        i0, i1, lam = linear_resample_coords(length, self.clip_len)  # (B, clip_len)
        person = torch.arange(M, device=keypoint.device).view(1, M, 1)
        # Which stored person fills slot m: itself, or the duplicated actor ('loop').
        source = person.expand(B, M, 1)
        if self.person_pad == 'loop':
            source = torch.where(persons.view(B, 1, 1) == 1, 0, source)
        exists = source < persons.view(B, 1, 1)  # (B, M, 1): zero padding where False
        base = offset.view(B, 1, 1) + source * frames.view(B, 1, 1) + start.view(B, 1, 1)

        def centred_frames(index: torch.Tensor) -> torch.Tensor:
            """Frames ``start + index`` of every slot, ``(B, M, clip_len, V, C)``,
            centred; absent person-frames' coordinates and padded slots are zero, the
            channels after the coordinates are as stored."""
            rows = torch.where(exists, base + index.view(B, 1, self.clip_len), 0)
            present = (batch['present'][rows] & exists).view(B, M, self.clip_len, 1, 1)
            keep = present | (~is_coord & exists.view(B, M, 1, 1, 1))
            frames_ = keypoint[rows].float()  # (B, M, clip_len, V, C)
            return torch.where(keep, frames_ - origin, 0.0)

        lam = lam.float().view(B, 1, self.clip_len, 1, 1)
        clip = centred_frames(i0) * (1 - lam) + centred_frames(i1) * lam
        if self.rotation == 'none':
            return clip
        if self.rotation == '3d':
            angles = -self.max_angle + 2 * self.max_angle * draws['angles']
            rotation = rotation_matrix(angles).float()  # (B, 3, 3)
        else:
            angle = -self.max_angle + 2 * self.max_angle * draws['angles'][:, _ANGLE_2D]
            rotation = rotation_matrix_2d(angle).float()  # (B, 2, 2)
        # Row vectors: (R @ x)^T = x^T @ R^T.
        coords = clip[..., :D].reshape(B, -1, D) @ rotation.transpose(1, 2)
        coords = coords.view(B, M, self.clip_len, V, D)
        return coords if D == C else torch.cat([coords, clip[..., D:]], dim=-1)

    def visible_tokens(self, joints: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Step 5: ``(B, M, T, V, C)`` augmented clips and ``(B, M, L)`` uniform draws ->
        ``(B * M, L_vis)`` positions of the tokens that stay visible, increasing."""
        if self.masking == 'motion_aware':
            scores = motion_aware_log_prob(joints, self.patch_len, self.tau) + gumbel(u)
        else:
            scores = u
        scores = scores.flatten(0, 1)  # (B * M, L)
        keep = scores.topk(self.num_visible(scores.shape[1]), dim=1, largest=False).indices
        return keep.sort(dim=1).values

    def extra_repr(self) -> str:
        return (f'clip_len={self.clip_len}, p_interval={self.p_interval}, '
                f'min_frames={self.min_frames}, max_angle={self.max_angle}, '
                f'centre_joint={self.centre_joint}, coord_dims={self.coord_dims}, '
                f'rotation={self.rotation!r}, num_person={self.num_person}, '
                f'person_pad={self.person_pad!r}, '
                f'masking={self.masking!r}, mask_ratio={self.mask_ratio}, tau={self.tau}, '
                f'patch_len={self.patch_len}, seed={self.seed}')
