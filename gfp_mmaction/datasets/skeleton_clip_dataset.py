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
from mmengine.logging import print_log
from mmengine.registry import FUNCTIONS
from torch.utils.data import get_worker_info

from ..utils.memory import release_free_memory
from ..utils.skeleton_math import first_presence, valid_frames
from .skeleton_dataset import AnnotationError, SkeletonPoseDataset

__all__ = ['SkeletonClipDataset', 'skeleton_clip_collate']

@DATASETS.register_module()
class SkeletonClipDataset(SkeletonPoseDataset):
    """MMAction2's ``PoseDataset`` (validated as :class:`SkeletonPoseDataset`) serving raw
    clips for pre-training.

    At load, after validation, the split's keypoints are packed into one contiguous
    array of person-frames: clip ``i``'s ``(M_i, T_i, V, C)`` values become ``M_i * T_i``
    rows of ``(V, C)``, person-major, starting at row ``row_offsets[i]``. The annotations
    keep only their small fields, so data-loader workers share the packed arrays (one
    object, no per-clip reference counts) instead of copying them page by page.

    A batch is ragged: only the clips' own rows, no padding, so each sample costs its
    real size through shared memory, pinning and the host-to-device copy:

    ``dict(keypoint=(R, V, C) float32, present=(R,) bool, row_offset=(B,), num_frames=(B,),
    num_persons=(B,), valid_frames=(B,), first_person=(B,), first_frame=(B,), index=(B,))``

    (the integers int64). Row ``row_offset[b] + m * num_frames[b] + t`` of ``keypoint`` is
    person ``m``, frame ``t`` of sample ``b``. The fields after ``num_persons`` describe
    the raw clip, computed once at load with the shared math of
    :mod:`gfp_mmaction.utils.skeleton_math` (so the device never scans a whole clip):
    ``present`` (a person-frame with any non-zero joint), ``valid_frames`` (up to the last
    frame with a non-zero joint, at most ``total_frames``), and where the centring origin
    lies (``first_person``, ``first_frame``,
    :func:`~gfp_mmaction.utils.skeleton_math.first_presence`). ``index`` is the dataset
    index, which the preprocessor's random draws are keyed on. Batches are made by
    ``__getitems__`` in the data-loader worker; use
    ``collate_fn=dict(type='skeleton_clip_collate')``.

    Channels: a row holds the file's ``num_coords`` coordinates and, when the clips carry
    MMAction2's ``keypoint_score`` ``(M, T, V)`` (2D files) and ``with_score`` is not
    False, the score as one more channel, as ``FormatGCNInput`` appends it: ``(V, 3)``
    for 2D keypoints with scores. Presence, the valid frames and the centring origin are
    computed from the coordinates alone; the preprocessor's ``coord_dims`` must be the
    file's ``num_coords``.

    With ``device='cuda'`` the packed arrays are kept on the device instead (in
    ``store_dtype``): a batch is then the whole store plus the batch's offsets, and the
    preprocessor gathers the frames it needs from it. No worker, no copy; that needs
    ``num_workers=0`` and ``pin_memory=False``. :attr:`store_bytes` is its size.

    Args:
        ann_file (str): the ``.pkl`` annotation file.
        pipeline (list): must be empty: the augmentation runs in the data preprocessor.
        num_person (int): the most persons a clip may have. Defaults to 2.
        device (str, optional): None (host, served by data-loader workers) or the device
            to keep the whole split on (e.g. ``'cuda'``).
        store_dtype (str): dtype of a device-resident store, ``'float32'`` or
            ``'float16'`` (half the memory; coordinates rounded to about 1e-3 of their
            magnitude). Defaults to ``'float32'``.
        **kwargs: the rest of :class:`SkeletonPoseDataset`'s arguments (``split``,
            ``layout``, ``num_joints``, ``num_coords``, ``with_score``, ``normalize_2d``,
            ``repair``, ...). ``with_score=None`` (the default) appends the score when
            every clip has one and refuses a file where only some have.
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
    def full_init(self) -> None:
        """MMEngine's loading; then the heap pages the file's per-clip arrays occupied go
        back to the system (:func:`~gfp_mmaction.utils.memory.release_free_memory`), so
        that the process holds the clips once, packed."""
        if self._fully_initialized:
            return
        super().full_init()
        release_free_memory()

    def load_data_list(self) -> List[Dict]:
        """Validated annotations without their keypoints, which go to the packed store."""
        annotations = super().load_data_list()
        persons = [len(a['keypoint']) for a in annotations]
        if max(persons, default=0) > self.num_person:
            i = int(np.argmax(persons))
            raise AnnotationError(
                f'{self._where()}: sample {annotations[i].get("frame_dir")!r}: field '
                f'"keypoint" has {persons[i]} persons, expected at most num_person='
                f'{self.num_person}')
        n = len(annotations)
        scored = [isinstance(a.get('keypoint_score'), np.ndarray) for a in annotations]
        if any(scored) and not all(scored):
            have, lack = scored.index(True), scored.index(False)
            raise AnnotationError(
                f'{self._where()}: sample {annotations[have].get("frame_dir")!r} has a field '
                f'"keypoint_score" and sample {annotations[lack].get("frame_dir")!r} has '
                'not; set the dataset\'s with_score=False to train on the coordinates alone')
        self.with_score_channel = bool(n and all(scored))
        self.shapes = np.array([a['keypoint'].shape for a in annotations], dtype=np.int64)
        # Contiguous per-clip vectors, indexed for every batch (_fields).
        self.num_persons = np.ascontiguousarray(self.shapes[:, 0])
        self.num_frames = np.ascontiguousarray(self.shapes[:, 1])
        rows = self.num_persons * self.num_frames
        self.row_offsets = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
        V, C = (int(d) for d in self.shapes[0, 2:])
        self.point_shape = (V, C + self.with_score_channel)  # (V, C [+ score])
        self.rows = np.empty((int(rows.sum()), *self.point_shape), dtype=np.float32)
        self.present = np.empty(int(rows.sum()), dtype=bool)
        self.valid_frames, self.first_person, self.first_frame = (
            np.empty(n, dtype=np.int64) for _ in range(3))
        for i, anno in enumerate(annotations):
            keypoint = anno.pop('keypoint')
            score = anno.pop('keypoint_score', None)
            clip = keypoint[None]
            total = int(anno.get('total_frames', keypoint.shape[1]))
            self.valid_frames[i] = min(int(valid_frames(clip)[0]), total)
            person, frame = first_presence(clip)
            self.first_person[i], self.first_frame[i] = person[0], frame[0]
            begin = self.row_offsets[i]
            target = self.rows[begin:begin + rows[i]]
            target[..., :C] = keypoint.reshape(rows[i], V, C)
            if self.with_score_channel:
                target[..., C] = score.reshape(rows[i], V)
            self.present[begin:begin + rows[i]] = keypoint.reshape(rows[i], -1).any(-1)
        self.store = None
        if self.device is not None:
            self.store = torch.from_numpy(self.rows).to(self.device, self.store_dtype)
            self.store_present = torch.from_numpy(self.present).to(self.device)
            self._device_fields = {key: torch.from_numpy(value).to(self.device)
                                   for key, value in self._fields().items()}
            print_log(f'SkeletonClipDataset: {n} clips of {self._where()} resident on '
                      f'{self.device} ({self.store_bytes / 2 ** 20:.1f} MiB, '
                      f'{self.store_dtype})', logger='current')
        return annotations

    @property
    def store_bytes(self) -> int:
        """Bytes of the packed clips: on the device when resident, else on the host."""
        if self.store is not None:
            return self.store.numel() * self.store.element_size() + self.store_present.numel()
        return self.rows.nbytes + self.present.nbytes

    def _fields(self) -> Dict[str, np.ndarray]:
        """The per-clip integers a batch carries besides its rows."""
        return dict(num_frames=self.num_frames, num_persons=self.num_persons,
                    valid_frames=self.valid_frames, first_person=self.first_person,
                    first_frame=self.first_frame)

    # ----------------------------------------------------------------- batches
    def clip(self, idx: int) -> np.ndarray:
        """Clip ``idx`` as stored, ``(M_i, T_i, V, C)`` (a view: do not modify)."""
        m, t = self.shapes[idx, :2]
        begin = self.row_offsets[idx]
        return self.rows[begin:begin + m * t].reshape(m, t, *self.point_shape)

    def __getitems__(self, indices: Sequence[int]) -> Dict[str, torch.Tensor]:
        """One batch of clips, see the class docstring."""
        indices = np.asarray(indices, dtype=np.int64)
        if self.store is not None:
            if get_worker_info() is not None:
                raise RuntimeError(
                    f'SkeletonClipDataset ({self._where()}): a device-resident dataset '
                    f'(device={self.device}) is read in the main process: set the '
                    "dataloader's num_workers=0, persistent_workers=False and pin_memory=False")
            index = torch.from_numpy(indices).to(self.device)
            batch = {key: value[index] for key, value in self._device_fields.items()}
            return dict(keypoint=self.store, present=self.store_present,
                        row_offset=torch.from_numpy(self.row_offsets[indices]).to(self.device),
                        **batch, index=index)
        counts = self.num_persons[indices] * self.num_frames[indices]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        keypoint = torch.empty((int(counts.sum()), *self.point_shape), dtype=torch.float32)
        present = torch.empty(int(counts.sum()), dtype=torch.bool)
        rows, flags = keypoint.numpy(), present.numpy()
        for i, begin, count in zip(indices, offsets, counts):
            source = self.row_offsets[i]
            rows[begin:begin + count] = self.rows[source:source + count]
            flags[begin:begin + count] = self.present[source:source + count]
        batch = {key: torch.from_numpy(value[indices]) for key, value in self._fields().items()}
        return dict(keypoint=keypoint, present=present, row_offset=torch.from_numpy(offsets),
                    **batch, index=torch.from_numpy(indices))

    def __getitem__(self, idx: int) -> Dict[str, torch.Tensor]:
        """Clip ``idx`` as a batch of one (``skeleton_clip_collate`` concatenates)."""
        return self.__getitems__([idx])


@FUNCTIONS.register_module()
def skeleton_clip_collate(batch) -> Dict:
    """Collate for :class:`SkeletonClipDataset`: ``dict(inputs=batch, data_samples=None)``.

    ``batch`` is the dict that ``__getitems__`` made, or a list of such dicts (batches of
    one, when a data loader fetches sample by sample), which are concatenated (their row
    offsets shifted).
    """
    if isinstance(batch, (list, tuple)):
        if not batch or not all(isinstance(b, dict) for b in batch):
            raise TypeError('skeleton_clip_collate takes what SkeletonClipDataset returns '
                            f'(dicts of tensors), got {type(batch[0]).__name__ if batch else "[]"}')
        shift = np.cumsum([0] + [len(b['keypoint']) for b in batch[:-1]])
        batch = {key: torch.cat([b[key] + int(s) if key == 'row_offset' else b[key]
                                 for b, s in zip(batch, shift)]) for key in batch[0]}
    if not isinstance(batch, dict) or 'keypoint' not in batch:
        raise TypeError('skeleton_clip_collate takes what SkeletonClipDataset returns, got '
                        f'{type(batch).__name__}')
    return dict(inputs=batch, data_samples=None)
