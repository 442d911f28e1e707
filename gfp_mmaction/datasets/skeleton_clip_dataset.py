"""Raw skeleton clips for the batched pre-training path: no per-sample pipeline.

The per-sample path (``SkeletonPoseDataset`` + numpy transforms + ``pseudo_collate``)
moves two tensors per sample between processes and spends most of a worker's time on
that; here a batch is a few tensors made in one go, and the augmentation and masking run
on the device (:class:`~gfp_mmaction.models.data_preprocessors.SkeletonPretrainPreprocessor`).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmaction.registry import DATASETS
from mmengine.registry import FUNCTIONS
from mmengine.logging import print_log
from torch.utils.data import get_worker_info

from ..utils.skeleton_math import first_presence, valid_frames
from .skeleton_dataset import AnnotationError, SkeletonPoseDataset

__all__ = ['SkeletonClipDataset', 'skeleton_clip_collate']

_CHUNK = 1024  # clips padded at a time when filling a device-resident store


@DATASETS.register_module()
class SkeletonClipDataset(SkeletonPoseDataset):
    """MMAction2's ``PoseDataset`` (validated as :class:`SkeletonPoseDataset`) serving raw
    clips for pre-training.

    At load, after validation, the split's keypoints are packed into one contiguous
    float32 array (each clip's ``(M_i, T_i, V, C)`` values one after another, with
    offsets), and the annotations keep only their small fields. A batch is the clips
    zero-padded to ``num_person`` persons and to the longest clip of the split
    (``max_frames``), so its shape never changes:

    ``dict(keypoint=(B, num_person, max_frames, V, C) float32, present=(B, num_person,
    max_frames) bool, valid_frames=(B,), first_person=(B,), first_frame=(B,),
    num_persons=(B,), index=(B,))``, the last five int64.

    Four of them describe the raw clip, computed once at load with the shared math of
    :mod:`gfp_mmaction.utils.skeleton_math` (so the device never scans the padding):
    ``present`` (a person-frame with any non-zero joint),
    ``valid_frames`` (up to the last frame with a non-zero joint, at most
    ``total_frames``) and where the centring origin lies (``first_person``,
    ``first_frame``: :func:`~gfp_mmaction.utils.skeleton_math.first_presence`).
    ``index`` is the dataset index, which the preprocessor's random draws are keyed on.
    Batches are made by ``__getitems__`` in the data-loader worker; use
    ``collate_fn=dict(type='skeleton_clip_collate')``.

    With ``device='cuda'`` the whole split is kept padded on the device instead (in
    ``store_dtype``) and a batch is one gather there: no worker, no copy. That needs
    ``num_workers=0`` and ``pin_memory=False``; the store takes
    ``N x num_person x max_frames x V x C`` elements (:attr:`store_bytes`).

    Args:
        ann_file (str): the ``.pkl`` annotation file.
        pipeline (list): must be empty: the augmentation runs in the data preprocessor.
        num_person (int): persons per clip after padding. Defaults to 2.
        device (str, optional): None (host, served by data-loader workers) or the device
            to keep the whole split on (e.g. ``'cuda'``).
        store_dtype (str): dtype of a device-resident store, ``'float32'`` or
            ``'float16'`` (half the memory; coordinates rounded to about 1e-3 of their
            magnitude). Defaults to ``'float32'``.
        **kwargs: the rest of :class:`SkeletonPoseDataset`'s arguments (``split``,
            ``num_joints``, ``repair``, ...).
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: Sequence = (),
                 num_person: int = 2,
                 device: Optional[str] = None,
                 store_dtype: str = 'float32',
                 **kwargs) -> None:
        if list(pipeline):
            raise ValueError(
                f'SkeletonClipDataset ({ann_file}): pipeline must be empty, got '
                f'{len(list(pipeline))} transforms; the augmentation and masking run in '
                "model.data_preprocessor (SkeletonPretrainPreprocessor). For a per-sample "
                'pipeline use SkeletonPoseDataset.')
        if store_dtype not in ('float32', 'float16'):
            raise ValueError(f'SkeletonClipDataset ({ann_file}): store_dtype must be '
                             f"'float32' or 'float16', got {store_dtype!r}")
        if not isinstance(num_person, int) or num_person < 1:
            raise ValueError(f'SkeletonClipDataset ({ann_file}): num_person must be a '
                             f'positive int, got {num_person!r}')
        self.num_person = num_person
        self.device = None if device is None else torch.device(device)
        self.store_dtype = getattr(torch, store_dtype)
        super().__init__(ann_file, [], **kwargs)

    # ----------------------------------------------------------------- loading
    def load_data_list(self) -> List[Dict]:
        """Validated annotations without their keypoints, which go to the store."""
        annotations = super().load_data_list()
        persons = [len(a['keypoint']) for a in annotations]
        if max(persons, default=0) > self.num_person:
            i = int(np.argmax(persons))
            raise AnnotationError(
                f'{self._where()}: sample {annotations[i].get("frame_dir")!r}: field '
                f'"keypoint" has {persons[i]} persons, expected at most num_person='
                f'{self.num_person}')
        shapes = np.array([a['keypoint'].shape for a in annotations], dtype=np.int64)
        sizes = shapes.prod(axis=1)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.shapes = shapes  # (N, 4): M_i, T_i, V, C
        self.frames = shapes[:, 1]
        self.valid_frames = np.empty(len(annotations), dtype=np.int64)
        self.first_person = np.empty(len(annotations), dtype=np.int64)
        self.first_frame = np.empty(len(annotations), dtype=np.int64)
        for i, anno in enumerate(annotations):
            clip = anno['keypoint'][None]
            total = int(anno.get('total_frames', clip.shape[2]))
            self.valid_frames[i] = min(int(valid_frames(clip)[0]), total)
            person, frame = first_presence(clip)
            self.first_person[i], self.first_frame[i] = person[0], frame[0]
        self.max_frames = int(self.frames.max())
        self.point_shape = tuple(int(d) for d in shapes[0, 2:])  # (V, C)
        self.keypoints = np.empty(int(sizes.sum()), dtype=np.float32)
        self.present_offsets = np.concatenate(
            [[0], np.cumsum(shapes[:, 0] * shapes[:, 1])[:-1]]).astype(np.int64)
        self.presence = np.empty(int((shapes[:, 0] * shapes[:, 1]).sum()), dtype=bool)
        for anno, offset, size, p_offset in zip(annotations, self.offsets, sizes,
                                                self.present_offsets):
            keypoint = anno.pop('keypoint')
            self.keypoints[offset:offset + size] = keypoint.ravel()
            present = keypoint.reshape(*keypoint.shape[:2], -1).any(-1).ravel()
            self.presence[p_offset:p_offset + present.size] = present
            anno.pop('keypoint_score', None)
        self.store = None
        if self.device is not None:
            self._make_device_store()
        return annotations

    def _make_device_store(self) -> None:
        n = len(self.offsets)
        self.store = torch.zeros((n, self.num_person, self.max_frames, *self.point_shape),
                                 dtype=self.store_dtype, device=self.device)
        self.store_present = torch.zeros(self.store.shape[:3], dtype=torch.bool,
                                         device=self.device)
        for begin in range(0, n, _CHUNK):
            clips, present = self._pad(np.arange(begin, min(begin + _CHUNK, n)))
            self.store[begin:begin + len(clips)] = torch.from_numpy(clips).to(
                self.device, self.store_dtype)
            self.store_present[begin:begin + len(clips)] = torch.from_numpy(present).to(
                self.device)
        self._device_fields = {key: torch.from_numpy(value).to(self.device)
                               for key, value in self._fields().items()}
        print_log(f'SkeletonClipDataset: {n} clips of {self._where()} resident on '
                  f'{self.device} ({self.store_bytes / 2 ** 20:.1f} MiB, {self.store_dtype})',
                  logger='current')

    @property
    def store_bytes(self) -> int:
        """Bytes of the clips: the device store, or the host's packed keypoints."""
        if self.store is not None:
            return self.store.numel() * self.store.element_size() + self.store_present.numel()
        return self.keypoints.nbytes + self.presence.nbytes

    # ----------------------------------------------------------------- batches
    def clip(self, idx: int) -> np.ndarray:
        """Clip ``idx`` as stored, ``(M_i, T_i, V, C)`` (a view: do not modify)."""
        size = int(self.shapes[idx].prod())
        return self.keypoints[self.offsets[idx]:self.offsets[idx] + size].reshape(
            self.shapes[idx])

    def _pad(self, indices) -> tuple:
        """Clips ``indices`` zero-padded, ``(B, num_person, max_frames, V, C)``, and their
        presence ``(B, num_person, max_frames)``."""
        out = np.zeros((len(indices), self.num_person, self.max_frames, *self.point_shape),
                       dtype=np.float32)
        present = np.zeros(out.shape[:3], dtype=bool)
        for b, idx in enumerate(indices):
            clip = self.clip(idx)
            m, t = clip.shape[:2]
            out[b, :m, :t] = clip
            present[b, :m, :t] = self.presence[
                self.present_offsets[idx]:self.present_offsets[idx] + m * t].reshape(m, t)
        return out, present

    def __getitems__(self, indices: Sequence[int]) -> Dict[str, torch.Tensor]:
        """One batch of clips, see the class docstring."""
        if self.store is not None:
            if get_worker_info() is not None:
                raise RuntimeError(
                    f'SkeletonClipDataset ({self._where()}): a device-resident dataset '
                    f'(device={self.device}) is read in the main process: set the '
                    'dataloader\'s num_workers=0, persistent_workers=False and pin_memory=False')
            index = torch.as_tensor(indices, dtype=torch.int64, device=self.device)
            batch = {key: value[index] for key, value in self._device_fields.items()}
            return dict(keypoint=self.store[index].float(), present=self.store_present[index],
                        **batch, index=index)
        indices = np.asarray(indices, dtype=np.int64)
        batch = {key: torch.from_numpy(value[indices]) for key, value in self._fields().items()}
        clips, present = self._pad(indices)
        return dict(keypoint=torch.from_numpy(clips), present=torch.from_numpy(present),
                    **batch, index=torch.from_numpy(indices))

    def _fields(self) -> Dict[str, np.ndarray]:
        """The per-clip integers a batch carries besides the keypoints and index."""
        return dict(valid_frames=self.valid_frames, first_person=self.first_person,
                    first_frame=self.first_frame, num_persons=self.shapes[:, 0].copy())

    def __getitem__(self, idx: int) -> Dict[str, torch.Tensor]:
        """Clip ``idx`` as a batch of one (``skeleton_clip_collate`` concatenates)."""
        return self.__getitems__([idx])


@FUNCTIONS.register_module()
def skeleton_clip_collate(batch) -> Dict:
    """Collate for :class:`SkeletonClipDataset`: ``dict(inputs=batch, data_samples=None)``.

    ``batch`` is the dict that ``__getitems__`` made, or a list of such dicts (batches of
    one, when a data loader fetches sample by sample), which are concatenated.
    """
    if isinstance(batch, (list, tuple)):
        if not batch or not all(isinstance(b, dict) for b in batch):
            raise TypeError('skeleton_clip_collate takes what SkeletonClipDataset returns '
                            f'(dicts of tensors), got {type(batch[0]).__name__ if batch else "[]"}')
        batch = {key: torch.cat([b[key] for b in batch]) for key in batch[0]}
    if not isinstance(batch, dict) or 'keypoint' not in batch:
        raise TypeError('skeleton_clip_collate takes what SkeletonClipDataset returns, got '
                        f'{type(batch).__name__}')
    return dict(inputs=batch, data_samples=None)
