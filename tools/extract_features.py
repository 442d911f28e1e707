"""Export the pooled encoder features of one split of a dataset to an ``.npz`` file.

    python tools/extract_features.py CONFIG CHECKPOINT --split NAME --out FILE.npz \\
        [--batch-size 64] [--num-workers 2] [--device cpu|cuda] [--cfg-options k=v ...]

CONFIG supplies the encoder (``model.backbone``, ``model.data_preprocessor``) and the data
(annotation file and test pipeline of ``test_dataloader``, else ``val_dataloader``; the
split is replaced by ``--split``).

CHECKPOINT is a pre-training or a recognizer checkpoint; its ``backbone.*`` weights must
cover the encoder exactly (checked, with a clear error). It is loaded as tools/test.py
loads one: with ``weights_only=True`` and the allowlist of ``gfp_mmaction.compat``, so a
file holding other objects is refused (nothing of it runs) unless
``GFP_TRUST_CHECKPOINTS=1`` is set for files you trust (docs/robustness.md).

A sample's feature is the encoder output ``(M, C, T', V)`` averaged over persons, time and
joints (and over the clips of a multi-clip test pipeline): the linear probe's input and
the retrieval feature. The file holds, in the dataset's order::

    features    float32 (n, C)
    labels      int64 (n,)
    frame_dirs  str (n,)
    split, config, checkpoint   str
"""
import argparse
import copy
import os.path as osp
import sys
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gfp_mmaction  # noqa: E402,F401  (stack fixes before any build)
from gfp_mmaction.compat import UntrustedCheckpointError  # noqa: E402
from gfp_mmaction.models.backbones import load_encoder_state  # noqa: E402
from gfp_mmaction.models.heads import PooledFeatureHead  # noqa: E402
from gfp_mmaction.utils import atomic_write  # noqa: E402
from gfp_mmaction.utils.cli_args import add_cfg_options  # noqa: E402
from gfp_mmaction.utils.config_checks import DATA_DOC, first_dataset_cfg  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Export pooled encoder features to .npz')
    parser.add_argument('config', help='config naming the encoder and the data')
    parser.add_argument('checkpoint', help='pre-training or recognizer checkpoint')
    parser.add_argument('--split', required=True, help='split of the annotation file, '
                        'e.g. xsub_train or xsub_val')
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def dataset_config(cfg, split: str) -> dict:
    """The test (else val) dataset of ``cfg`` as a ``SkeletonPoseDataset`` of ``split``:
    MMAction2's ``PoseDataset`` that checks every sample of the split when it loads, so a
    broken sample stops the export naming the file, the sample and the field."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader:
        raise ValueError('the config has neither a test_dataloader nor a val_dataloader')
    dataset = first_dataset_cfg(copy.deepcopy(loader['dataset']))
    # Retrieval / semi-supervised variants read a subset or two splits: read one split;
    # a SkeletonClipDataset's store options are not a per-sample dataset's.
    for key in ('gallery_split', 'query_split', 'labelled_fraction', 'subset_seed',
                'num_person', 'device', 'store_dtype'):
        dataset.pop(key, None)
    dataset.update(type='SkeletonPoseDataset', split=split, test_mode=True)
    return dataset


def extract(cfg, checkpoint: str, split: str, batch_size: int, num_workers: int,
            device: str):
    """Returns features ``(n, C)`` float32, labels ``(n,)`` int64 and frame_dirs."""
    from mmaction.registry import DATASETS, MODELS
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    dataset_cfg = dataset_config(cfg, split)
    try:
        dataset = DATASETS.build(dataset_cfg)
    except KeyError as error:  # PoseDataset's plain KeyError for an unknown split
        raise KeyError(f'{dataset_cfg.get("ann_file")}: cannot read split {split!r} '
                       f'({error!r}); check the split name') from error
    backbone_cfg = copy.deepcopy(cfg.model['backbone'])
    backbone_cfg.pop('init_cfg', None)
    backbone = MODELS.build(backbone_cfg)
    backbone.load_state_dict(load_encoder_state(backbone, checkpoint, 'backbone.'))
    preprocessor = MODELS.build(cfg.model.get('data_preprocessor') or
                                dict(type='ActionDataPreprocessor'))
    backbone.to(device).eval()
    preprocessor.to(device)

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=pseudo_collate)
    features, labels = [], []
    progress = ProgressBar(len(dataset))
    with torch.no_grad():
        for batch in loader:
            data = preprocessor(batch, training=False)
            inputs = data['inputs']  # (N, num_clips, M, T, V, C)
            pooled = PooledFeatureHead.pool(backbone(inputs.flatten(0, 1)))
            pooled = pooled.reshape(inputs.shape[0], inputs.shape[1], -1).mean(dim=1)
            features.append(pooled.float().cpu().numpy())
            labels.extend(int(sample.gt_label.item()) for sample in data['data_samples'])
            for _ in range(inputs.shape[0]):
                progress.update()
    sys.stdout.write('\n')
    frame_dirs = [dataset.get_data_info(i)['frame_dir'] for i in range(len(dataset))]
    if not features:
        raise ValueError(f'split {split!r} of {dataset.ann_file} is empty')
    return np.concatenate(features), np.asarray(labels, dtype=np.int64), frame_dirs


def save_npz(path: str, **arrays) -> None:
    """``np.savez`` to ``path``, atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def main(argv=None):
    args = parse_args(argv)
    if not args.out.endswith('.npz'):
        sys.exit('error: --out must name a .npz file')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    ann_file = dataset_config(cfg, args.split).get('ann_file')
    if ann_file is None or not osp.isfile(ann_file):
        sys.exit(f'error: annotation file {ann_file} does not exist; prepare it as described '
                 f'in {DATA_DOC}, or override it with --cfg-options')
    try:
        features, labels, frame_dirs = extract(cfg, args.checkpoint, args.split,
                                               args.batch_size, args.num_workers, args.device)
    except (FileNotFoundError, KeyError, ValueError, UntrustedCheckpointError) as error:
        sys.exit(f'error: {error}')
    save_npz(args.out, features=features, labels=labels, frame_dirs=np.asarray(frame_dirs),
             split=np.asarray(args.split), config=np.asarray(args.config),
             checkpoint=np.asarray(args.checkpoint))
    print(f'{len(labels)} samples x {features.shape[1]} features of split {args.split} '
          f'-> {args.out}')


if __name__ == '__main__':
    main()
