"""2D COCO-17 keypoints made from the synthetic 3D NTU skeletons, in MMAction2's 2D format.

MMAction2's 2D skeleton pickles (``ntu60_2d.pkl``: MMPose's HRNet run on the NTU videos)
hold, per clip, ``keypoint`` ``(M, T, 17, 2)`` pixel coordinates of the COCO-17 keypoints,
``keypoint_score`` ``(M, T, 17)`` and ``img_shape`` / ``original_shape`` ``(h, w)``.
:func:`generate_synthetic_ntu_2d` makes such a file from
:func:`~gfp_mmaction.testing.synthetic.generate_synthetic_ntu`'s 3D clips, for the demo and the
tests, in three steps:

1. the 25 NTU joints become the 17 COCO keypoints (:data:`COCO17_FROM_NTU25`): the
   shoulders, elbows, wrists, hips, knees and ankles are NTU's own joints; the nose is
   the head joint; eyes and ears, which NTU lacks, are placed from the head, the neck and
   the shoulder line (each a fixed linear combination, so they move with the head);
2. each point is seen by a pinhole camera at the recording camera's position, raised to
   ``camera_height`` above the floor: ``u = cx + f * x / z``, ``v = cy - f * (y - h) / z``
   (image ``v`` points down);
3. a keypoint is visible, score 1, where every NTU joint it is made from was recorded;
   else it is absent: coordinates 0, score 0 (the synthetic Kinect drop-outs).
"""
import copy
import pickle
from typing import Dict, Tuple

import numpy as np

from ...utils.atomic_io import atomic_write
from ...utils.joint_layouts import COCO17, NTU25
from .writer import generate_synthetic_ntu

__all__ = ['COCO17_FROM_NTU25', 'ntu25_to_coco17', 'project_pinhole', 'to_2d_annotations',
           'generate_synthetic_ntu_2d', 'write_synthetic_ntu_2d']

_N = {name: j for j, name in enumerate(NTU25.joint_names)}
_UP = {_N['head']: 1.0, _N['neck']: -1.0}                     # head - neck: the head's up
_LEFT = {_N['l-shoulder']: 1.0, _N['r-shoulder']: -1.0}       # towards the body's left


def _combine(*terms) -> Dict[int, float]:
    weights: Dict[int, float] = {}
    for scale, term in terms:
        for joint, w in term.items():
            weights[joint] = weights.get(joint, 0.0) + scale * w
    return weights


_HEAD = {_N['head']: 1.0}
#: Each COCO-17 keypoint (MMPose's order) as weights of NTU-25 joints; every row sums to
#: 1, so the mapping commutes with translations (and with any linear map, the projection
#: aside).
COCO17_FROM_NTU25 = {
    'nose': _HEAD,
    'l-eye': _combine((1, _HEAD), (0.3, _UP), (0.1, _LEFT)),
    'r-eye': _combine((1, _HEAD), (0.3, _UP), (-0.1, _LEFT)),
    'l-ear': _combine((1, _HEAD), (0.1, _UP), (0.25, _LEFT)),
    'r-ear': _combine((1, _HEAD), (0.1, _UP), (-0.25, _LEFT)),
    **{name: {_N[name]: 1.0} for name in COCO17.joint_names[5:]},
}


def _mapping_matrix() -> np.ndarray:
    matrix = np.zeros((COCO17.num_joints, NTU25.num_joints))
    for k, name in enumerate(COCO17.joint_names):
        for joint, weight in COCO17_FROM_NTU25[name].items():
            matrix[k, joint] = weight
    return matrix


_MATRIX = _mapping_matrix()  # (17, 25)


def ntu25_to_coco17(keypoint: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """NTU-25 joints -> COCO-17 keypoints by :data:`COCO17_FROM_NTU25`.

    Args:
        keypoint (np.ndarray): ``(..., 25, C)`` float; an absent joint is all zeros.

    Returns:
        tuple: ``(coco (..., 17, C) float64, visible (..., 17) bool)``: a keypoint is
        visible where every joint it is made from is present, else its coordinates are 0.
    """
    keypoint = np.asarray(keypoint, dtype=np.float64)
    present = (keypoint != 0).any(axis=-1)  # (..., 25)
    coco = np.einsum('kj,...jc->...kc', _MATRIX, keypoint)
    needed = _MATRIX != 0  # (17, 25)
    # visible: no needed joint absent
    visible = ~((~present[..., None, :]) & needed).any(axis=-1)
    return np.where(visible[..., None], coco, 0.0), visible


def project_pinhole(points: np.ndarray, focal: float = 1000.0,
                    img_shape: Tuple[int, int] = (1080, 1920),
                    camera_height: float = 0.9) -> np.ndarray:
    """Pixel coordinates of camera-frame points (x right, y up from the floor, z depth).

    ``u = w / 2 + focal * x / z``, ``v = h / 2 - focal * (y - camera_height) / z``.

    Args:
        points (np.ndarray): ``(..., 3)``, metres, ``z > 0``.
        focal (float): focal length, pixels. Defaults to 1000 (NTU's Kinect v2 colour
            camera has about 1060 at 1920 x 1080).
        img_shape (tuple[int, int]): ``(h, w)``. Defaults to ``(1080, 1920)``.
        camera_height (float): the camera's height above the floor, metres. Defaults to
            0.9.

    Returns:
        np.ndarray: ``(..., 2)`` float64 ``(u, v)``.
    """
    h, w = img_shape
    x, y, z = points[..., 0], points[..., 1] - camera_height, points[..., 2]
    return np.stack([w / 2 + focal * x / z, h / 2 - focal * y / z], axis=-1)


def to_2d_annotations(data: Dict, focal: float = 1000.0,
                      img_shape: Tuple[int, int] = (1080, 1920),
                      camera_height: float = 0.9) -> Dict:
    """A 3D NTU annotation dict as MMAction2's 2D COCO-17 one (a new dict).

    Every annotation keeps ``frame_dir``, ``label`` and ``total_frames`` and gets
    ``keypoint`` ``(M, T, 17, 2)`` float32 pixels, ``keypoint_score`` ``(M, T, 17)``
    float32 (1 visible, 0 absent), ``img_shape`` and ``original_shape``; the splits are
    kept. Arguments as :func:`project_pinhole`.
    """
    out = dict(split=copy.deepcopy(data.get('split', {})), annotations=[])
    for anno in data['annotations']:
        coco, visible = ntu25_to_coco17(anno['keypoint'])
        safe = np.where(visible[..., None], coco, [0.0, 0.0, 1.0])  # no 0 depth
        uv = np.where(visible[..., None], project_pinhole(safe, focal, img_shape,
                                                          camera_height), 0.0)
        item = {k: v for k, v in anno.items() if k != 'keypoint'}
        item.update(keypoint=uv.astype(np.float32),
                    keypoint_score=visible.astype(np.float32),
                    img_shape=tuple(img_shape), original_shape=tuple(img_shape))
        out['annotations'].append(item)
    return out


def generate_synthetic_ntu_2d(focal: float = 1000.0, img_shape: Tuple[int, int] = (1080, 1920),
                              camera_height: float = 0.9, **kwargs) -> Dict:
    """:func:`~gfp_mmaction.testing.synthetic.generate_synthetic_ntu` (``kwargs``) seen as 2D
    COCO-17 keypoints (:func:`to_2d_annotations`)."""
    return to_2d_annotations(generate_synthetic_ntu(**kwargs), focal, img_shape,
                             camera_height)


def write_synthetic_ntu_2d(path: str, **kwargs) -> Dict:
    """Generate (``kwargs`` as :func:`generate_synthetic_ntu_2d`) and pickle to ``path``,
    atomically. Returns the generated dict."""
    data = generate_synthetic_ntu_2d(**kwargs)
    atomic_write(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), fsync=False)
    return data
