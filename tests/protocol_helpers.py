"""Shared by the protocol tests: tiny settings for the real configs, the real tools run in
this process (the imports dominate a tiny run), a tiny GFP pre-training checkpoint."""
import importlib.util
import json
import pickle
from pathlib import Path
from typing import Dict, List

import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
WIDTH = 32


def load_tool(name: str):
    """``tools/{name}.py`` as a module (its ``main(argv)`` is the command line)."""
    spec = importlib.util.spec_from_file_location(f'gfp_tool_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_all_splits(source: Path, target: Path) -> Path:
    """The synthetic pickle plus NTU-120's ``xset`` split names (a copy of ``xview``)."""
    with open(source, 'rb') as f:
        data = pickle.load(f)
    data['split']['xset_train'] = list(data['split']['xview_train'])
    data['split']['xset_val'] = list(data['split']['xview_val'])
    with open(target, 'wb') as f:
        pickle.dump(data, f)
    return target


def make_gfp_checkpoint(path: Path, width: int = WIDTH, depth: int = 1) -> Path:
    """A freshly initialised tiny GFP model (configs/gfp/gfp_synthetic_xsub.py at width
    ``width``, ``depth`` encoder blocks, 120-frame clips) saved as an MMEngine checkpoint."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO / 'configs/gfp/gfp_synthetic_xsub.py'))
    cfg.merge_from_dict({
        'model.backbone.embed_dims': width, 'model.backbone.depth': depth,
        'model.backbone.num_heads': 2, 'model.neck.in_dims': width,
        'model.neck.embed_dims': width, 'model.neck.num_heads': 2,
        'model.neck.target_dims': width, 'model.neck.global_hidden': 2 * width,
        'model.target_generator.target_dims': width,
        'model.target_generator.local_hidden': width,
        'model.target_generator.global_hidden': 2 * width})
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def tiny_options(config: str, ann_file: Path, checkpoint: Path = None,
                 batch_size: int = 8, samples: int = 8) -> List[str]:
    """``--cfg-options`` that shrink a real config to seconds on a CPU: the encoder 32 wide
    and one block deep, ``samples`` clips per loader from ``ann_file``, one epoch, no
    worker processes. Only keys the config has are set."""
    cfg = Config.fromfile(str(REPO / config))
    opts = [f'model.backbone.embed_dims={WIDTH}', 'model.backbone.depth=1',
            'model.backbone.num_heads=2']
    head = cfg.model.get('cls_head') or {}
    if 'in_channels' in head:
        opts.append(f'model.cls_head.in_channels={WIDTH}')
    if 'hidden_dims' in head:
        opts.append('model.cls_head.hidden_dims=64')
    if cfg.model.backbone.get('init_cfg') and checkpoint is not None:
        opts.append(f'model.backbone.init_cfg.checkpoint={checkpoint}')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if not cfg.get(loader):
            continue
        opts += [f'{loader}.batch_size={batch_size}', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False', f'{loader}.pin_memory=False']
        key = f'{loader}.dataset'
        if cfg[loader].dataset.type == 'RepeatDataset':
            opts.append(f'{key}.times=1')
            key += '.dataset'
        # serialize_data=False: no gc.collect per dataset (seconds over the suite)
        opts += [f'{key}.ann_file={ann_file}', f'{key}.serialize_data=False']
        if cfg[loader].dataset.type != 'RetrievalPoseDataset':  # keep its query half
            opts.append(f'{key}.indices={samples}')
    if cfg.get('train_cfg'):
        opts += ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                 'default_hooks.checkpoint.save_best=None']  # one checkpoint, not two
    return opts


def logged_metrics(work_dir: Path) -> List[Dict]:
    """Every record MMEngine logged as JSON under ``work_dir`` (training, val, test)."""
    records = []
    for path in sorted(Path(work_dir).rglob('*.json')):
        for line in path.read_text().splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records
