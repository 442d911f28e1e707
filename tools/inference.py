"""Classify one skeleton sample with a trained recognizer and print its top-k classes.

    python tools/inference.py CONFIG CHECKPOINT INPUT [--top-k 5] [--label-map FILE]
        [--frames START:END] [--device cpu] [--cfg-options k=v ...]

CONFIG is a recognizer config (``configs/gfp/linear_*.py``, ``finetune_*.py``, the swap
config or any MMAction2 skeleton recognizer) and CHECKPOINT a checkpoint of a run of it
(``work_dirs/<config>/epoch_100.pth``, ``best_*.pth``). INPUT is one of:

- ``FILE.skeleton``: a raw NTU RGB+D file, parsed and denoised to at most two actors
  exactly as ``tools/data/ntu_raw_to_pkl.py`` converts the dataset;
- ``FILE.txt``: a PKU-MMD skeleton file (one line of 2 x 25 x 3 numbers per frame). The
  videos are untrimmed: ``--frames START:END`` cuts one action (frames START..END-1, as
  ``tools/data/pku_mmd_to_pkl.py`` cuts a labelled instance);
- ``FILE.npy``: joint coordinates ``(M, T, V, C)`` (persons, frames, joints, xyz), in the
  layout and units of MMAction2's 3D skeleton pickles;
- ``FILE.pkl:FRAME_DIR``: the annotation named ``FRAME_DIR`` in an MMAction2 skeleton
  pickle (its true label is printed too).

The sample goes through the config's test pipeline (``test_dataloader.dataset.pipeline``)
and the model's ``test_step``, as in testing. Scores are what the head's
``average_clips`` gives (class probabilities for this project's heads). Class names come
from ``--label-map`` (one name per line in class-index order; ``tools/data/label_map/``
has NTU-60, NTU-120 and PKU-MMD's).

Checkpoints are unpickled as by ``tools/test.py``: load only files you trust.
"""
import argparse
import copy
import os.path as osp
import pickle
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose
from mmengine.fileio import load as load_file
from mmengine.runner.checkpoint import CheckpointLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes before any build)
from gfp_mmaction.datasets.raw_skeletons import (  # noqa: E402
    SkeletonFormatError,
    denoise_ntu,
    pku_persons,
    read_ntu_skeleton,
    read_pku_skeleton,
)
from gfp_mmaction.utils.config_checks import first_dataset_cfg  # noqa: E402

INPUT_KINDS = ('an NTU RGB+D .skeleton file, a PKU-MMD skeleton .txt file, an .npy array '
               '(M, T, V, C) or FILE.pkl:frame_dir')


class InputError(ValueError):
    """The sample, checkpoint, config or label map cannot be used; the message names the
    file and what was expected."""


# --------------------------------------------------------------------------- the sample
def _pose_sample(name: str, keypoint: np.ndarray) -> dict:
    """The pipeline's input, as MMAction2's ``PoseDataset`` gives it."""
    return dict(frame_dir=name, total_frames=int(keypoint.shape[1]), keypoint=keypoint,
                start_index=0, modality='Pose')


def _from_pickle(path: str, frame_dir: str) -> Tuple[dict, str]:
    """The annotation ``frame_dir`` of an MMAction2 skeleton pickle, as the pipeline's
    input (its label included)."""
    if not osp.isfile(path):
        raise InputError(f'INPUT {path} does not exist (expected {INPUT_KINDS})')
    try:
        data = load_file(path)
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise InputError(f'{path}: not a readable pickle ({error})') from None
    annotations = data.get('annotations') if isinstance(data, dict) else data
    if not isinstance(annotations, list):
        raise InputError(f'{path}: expected an MMAction2 skeleton pickle, dict(split=..., '
                         f'annotations=[...]) or a list of annotations, got '
                         f'{type(data).__name__}')
    for anno in annotations:
        if isinstance(anno, dict) and anno.get('frame_dir') == frame_dir:
            if 'keypoint' not in anno:
                raise InputError(f'{path}: annotation {frame_dir!r} has no field "keypoint"')
            sample = dict(anno, start_index=0, modality='Pose')
            sample.setdefault('total_frames', int(np.asarray(anno['keypoint']).shape[1]))
            return sample, 'annotation of an MMAction2 skeleton pickle'
    names = [a.get('frame_dir') for a in annotations[:3] if isinstance(a, dict)]
    raise InputError(f'{path}: no annotation with frame_dir {frame_dir!r} among its '
                     f'{len(annotations)} (e.g. {names})')


def parse_frames(text: str) -> Tuple[int, int]:
    """``'START:END'`` -> ``(START, END)`` with ``0 <= START < END``."""
    start, sep, end = text.partition(':')
    try:
        start, end = int(start), int(end)
    except ValueError:
        start = end = -1
    if not sep or not 0 <= start < end:
        raise InputError(f'--frames {text}: expected START:END with 0 <= START < END')
    return start, end


def _cut(array: np.ndarray, frames: Optional[Tuple[int, int]], source: str,
         axis: int = 1) -> np.ndarray:
    """Frames ``START..END-1`` along ``axis`` (all of them when ``frames`` is None)."""
    if frames is None:
        return array
    if frames[0] >= array.shape[axis]:
        raise InputError(f'--frames {frames[0]}:{frames[1]}: {source} has only '
                         f'{array.shape[axis]} frames')
    index = [slice(None)] * array.ndim
    index[axis] = slice(*frames)
    return np.ascontiguousarray(array[tuple(index)])


def load_sample(spec: str, frames: Optional[Tuple[int, int]] = None) -> Tuple[dict, str]:
    """Read INPUT into the test pipeline's input dict.

    Args:
        spec (str): ``FILE.skeleton``, ``FILE.txt``, ``FILE.npy`` or
            ``FILE.pkl:FRAME_DIR``.
        frames (tuple[int, int], optional): ``(START, END)``: keep frames
            ``START..END-1`` only. For a PKU-MMD file the persons are then chosen in
            those frames, as the converter does. Defaults to None (every frame).

    Returns:
        tuple[dict, str]: ``(sample, kind)``: ``frame_dir``, ``total_frames``, ``keypoint``
        float32 ``(M, T, V, C)`` (plus the annotation's other fields for a pickle), and a
        description of the input kind.

    Raises:
        InputError: a missing file, an unknown kind or an array of the wrong shape.
        SkeletonFormatError: a malformed ``.skeleton`` / ``.txt`` (names file and line).
    """
    path, sep, frame_dir = spec.rpartition(':')
    if sep and path.endswith(('.pkl', '.pickle')) and frame_dir:
        sample, kind = _from_pickle(path, frame_dir)
        if frames is not None:
            sample['keypoint'] = _cut(np.asarray(sample['keypoint']), frames, spec)
            sample['total_frames'] = int(sample['keypoint'].shape[1])
            if 'keypoint_score' in sample:
                sample['keypoint_score'] = _cut(np.asarray(sample['keypoint_score']), frames,
                                                spec)
        return sample, kind
    if spec.endswith(('.pkl', '.pickle')):
        raise InputError(f'INPUT {spec}: a pickle holds many samples; name one as '
                         f'{spec}:FRAME_DIR')
    if not spec.endswith(('.skeleton', '.txt', '.npy')):
        raise InputError(f'INPUT {spec}: expected {INPUT_KINDS}')
    if not osp.isfile(spec):
        raise InputError(f'INPUT {spec} does not exist')
    name = osp.splitext(osp.basename(spec))[0]
    if spec.endswith('.skeleton'):
        keypoint, _ = denoise_ntu(read_ntu_skeleton(spec), spec)
        return _pose_sample(name, _cut(keypoint, frames, spec)), 'NTU RGB+D .skeleton, denoised'
    if spec.endswith('.txt'):
        keypoint = pku_persons(_cut(read_pku_skeleton(spec), frames, spec, axis=0))
        if len(keypoint) == 0:
            raise InputError(f'{spec}: no person recorded (every value of the frames is 0)')
        return _pose_sample(name, keypoint), 'PKU-MMD skeleton file'
    try:
        array = np.load(spec, allow_pickle=False)
    except ValueError as error:
        raise InputError(f'{spec}: not a plain .npy array ({error})') from None
    numeric = np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    if array.ndim != 4 or not numeric or 0 in array.shape:
        raise InputError(f'{spec}: expected a numeric array of shape (M, T, V, C) (persons, '
                         f'frames, joints, coordinates), got {array.dtype} {array.shape}')
    keypoint = np.ascontiguousarray(_cut(array, frames, spec), dtype=np.float32)
    return _pose_sample(name, keypoint), '.npy array'


# --------------------------------------------------------------------------- the model
def config_test_pipeline(cfg: Config) -> list:
    """The config's test pipeline: ``test_dataloader.dataset.pipeline`` (through dataset
    wrappers), else ``cfg.test_pipeline``."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    dataset = first_dataset_cfg(loader.get('dataset'))
    pipeline = dataset.get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise InputError('the config has no test pipeline (test_dataloader.dataset.pipeline '
                         'or test_pipeline)')
    return copy.deepcopy(pipeline)


def build_recognizer(cfg: Config, checkpoint: str, device: str) -> torch.nn.Module:
    """MMAction2's ``init_recognizer`` with the checkpoint loaded strictly.

    ``init_recognizer`` itself loads with ``strict=False``, which would classify with a
    random head if the checkpoint is a pre-training one; here every weight of the model
    must be in the checkpoint, and nothing else.

    Raises:
        InputError: a missing checkpoint, or weights missing / extra / of other shapes,
            naming the file and the keys.
    """
    from mmaction.apis import init_recognizer
    if not osp.isfile(checkpoint):
        raise InputError(f'checkpoint {checkpoint} does not exist')
    model = init_recognizer(cfg, checkpoint=None, device=device)
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise InputError(f'checkpoint {checkpoint} holds no state dict')
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing and all(key.startswith('cls_head.') for key in missing) and \
            any(key.startswith('backbone.') for key in state):
        raise InputError(
            f'checkpoint {checkpoint} has no classifier weights (cls_head.*): it looks like a '
            'pre-training checkpoint. Train a classifier on its encoder first (configs/gfp/'
            'linear_*.py or finetune_*.py with model.backbone.init_cfg.checkpoint set to it) '
            'and pass that run\'s checkpoint.')
    if missing or unexpected:
        raise InputError(
            f'checkpoint {checkpoint} does not match the model of the config: '
            f'{len(missing)} of its {len(expected)} weights are missing (e.g. {missing[:4]}), '
            f'{len(unexpected)} are not the model\'s (e.g. {unexpected[:4]}). Pass the config '
            'the checkpoint was trained with.')
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise InputError(f'checkpoint {checkpoint} does not fit the model of the config: '
                         f'{error}') from None
    return model


def predict(model: torch.nn.Module, pipeline: list, sample: dict) -> torch.Tensor:
    """Run the test pipeline and the model on one sample; returns the class scores."""
    from mmaction.apis import inference_recognizer
    result = inference_recognizer(model, copy.deepcopy(sample), Compose(pipeline))
    if 'pred_score' not in result:
        raise InputError('the model gives no class scores (pred_score): use a recognizer '
                         'config (linear probe, fine-tune), not a retrieval one')
    return result.pred_score.detach().float().cpu()


def load_label_map(path: str, num_classes: int) -> List[str]:
    """Class names, one per line in class-index order (trailing blank lines ignored).

    Raises:
        InputError: a missing file, a blank name, or not exactly ``num_classes`` names
            (a label map of another dataset would name the classes wrongly).
    """
    if not osp.isfile(path):
        raise InputError(f'--label-map {path} does not exist')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f.read().rstrip().split('\n')]
    blank = [i + 1 for i, name in enumerate(names) if not name]
    if len(names) != num_classes or blank:
        raise InputError(f'--label-map {path}: expected one name per line for the model\'s '
                         f'{num_classes} classes, got {len(names)} lines'
                         + (f' (line(s) {blank[:5]} blank)' if blank else ''))
    return names


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Classify one skeleton sample and print the top-k classes.')
    parser.add_argument('config', help='recognizer config (linear probe, fine-tune, ...)')
    parser.add_argument('checkpoint', help='checkpoint of a run of that config')
    parser.add_argument('input', help=f'the sample: {INPUT_KINDS}')
    parser.add_argument('--top-k', type=int, default=5, help='classes to print (default 5)')
    parser.add_argument('--label-map', help='class names, one per line (e.g. '
                        'tools/data/label_map/ntu60.txt)')
    parser.add_argument('--frames', metavar='START:END',
                        help='use frames START..END-1 only (e.g. one action of an untrimmed '
                        'PKU-MMD video)')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu',
                        help='cpu, cuda, cuda:1, ... (default: cuda:0 when available)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        if args.top_k < 1:
            raise InputError(f'--top-k {args.top_k}: expected at least 1')
        if args.device.startswith('cuda') and not torch.cuda.is_available():
            raise InputError(f'--device {args.device}: CUDA is not available here; use '
                             '--device cpu')
        frames = parse_frames(args.frames) if args.frames else None
        sample, kind = load_sample(args.input, frames)
        if not osp.isfile(args.config):
            raise InputError(f'config {args.config} does not exist')
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        pipeline = config_test_pipeline(cfg)
        model = build_recognizer(cfg, args.checkpoint, args.device)
        try:
            scores = predict(model, pipeline, sample)
        except (KeyError, ValueError, TypeError, RuntimeError) as error:
            # The pipeline's and the model's own checks, e.g. a skeleton of other joints.
            raise InputError(f'{args.input}: {error}') from None
        names = load_label_map(args.label_map, len(scores)) if args.label_map else None
    except (InputError, SkeletonFormatError, OSError, pickle.UnpicklingError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1

    keypoint = sample['keypoint']
    print(f'{args.input}: {kind}; {keypoint.shape[0]} person(s), {keypoint.shape[1]} frames, '
          f'{keypoint.shape[2]} joints')
    if 'label' in sample:
        label = int(sample['label'])
        named = f' {names[label]}' if names and 0 <= label < len(names) else ''
        print(f'true label: {label}{named}')
    top = torch.topk(scores, min(args.top_k, len(scores)))
    print(f'top-{len(top.indices)} of {len(scores)} classes:')
    width = len(str(len(scores) - 1))
    for rank, (score, index) in enumerate(zip(top.values.tolist(), top.indices.tolist()), 1):
        name = f'  {names[index]}' if names else ''
        print(f'{rank:>3}. {score:.4f}  class {index:>{width}}{name}')
    if names is None:
        print('(class names: pass --label-map, e.g. tools/data/label_map/ntu60.txt)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
