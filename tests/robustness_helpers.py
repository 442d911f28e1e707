"""Shared by the robustness tests: a tiny GFP config on the embedded synthetic data and
``tools/train.py``'s ``main`` run in this process (a subprocess would spend most of its
time importing)."""
import hashlib
import importlib.util
import itertools
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The batched pre-training path (SkeletonClipDataset, skeleton_clip_collate,
# SkeletonPretrainPreprocessor): 48-frame clips, 4-frame patches -> 12 patch rows;
# encoder depth x width (1 x 32); the embedded data's 20 training clips.
TINY_GFP = """
_base_ = '{repo}/configs/gfp/gfp_synthetic_xsub.py'
model = dict(
    backbone=dict(embed_dims={width}, depth={depth}, num_heads=2, num_frames=48),
    neck=dict(in_dims={width}, embed_dims=32, num_heads=2, num_rows=12,
              pool_kernels=(2, 6, 12), target_dims=32, global_hidden=64),
    target_generator=dict(target_dims=32, pool_kernels=(2, 6, 12), local_hidden=32,
                          global_hidden=64))
data_preprocessor = dict(clip_len=48, min_frames=16)
train_dataloader = dict(
    batch_size={batch_size}, num_workers={num_workers}, persistent_workers={persistent},
    dataset=dict(ann_file='{ann_file}'))
train_cfg = dict(max_epochs={epochs})
"""


def tiny_gfp_config(ann_file, *, width: int = 32, depth: int = 1, epochs: int = 1,
                    batch_size: int = 10, num_workers: int = 0, extra: str = '') -> str:
    """The text of a tiny GFP pre-training config; ``extra`` is appended as config lines
    (hooks, custom imports, another data preprocessor type)."""
    return TINY_GFP.format(repo=REPO, ann_file=ann_file, width=width, depth=depth,
                           epochs=epochs, batch_size=batch_size, num_workers=num_workers,
                           persistent=num_workers > 0) + extra + '\n'


_names = itertools.count()


def write_config(directory: Path, ann_file: Path, width: int = 32, depth: int = 1,
                 epochs: int = 1, extra: str = '') -> Path:
    """A tiny config file with a name used once: MMEngine names the logger and the
    visualizer of a run after the config file and the second it started, and two runs
    of this process must not share them."""
    path = Path(directory) / f'tiny_{next(_names)}_{width}_{depth}.py'
    hooks = ('default_hooks = dict(logger=dict(interval=1),\n'
             '                     checkpoint=dict(interval=1, max_keep_ckpts=3))\n'
             'custom_hooks = []\n')
    path.write_text(tiny_gfp_config(ann_file, width=width, depth=depth, epochs=epochs,
                                    extra=hooks + extra))
    return path


def load_train_tool():
    """``tools/train.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location('gfp_train_tool', REPO / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(work_dir: Path) -> dict:
    """``{name: sha256}`` of the checkpoint files and ``last_checkpoint``."""
    files = sorted(Path(work_dir).glob('*.pth')) + [Path(work_dir) / 'last_checkpoint']
    return {p.name: digest(p) for p in files if p.is_file()}
