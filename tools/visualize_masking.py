"""Draw a clip's skeleton with the tokens that the configured masking hides.

    python tools/visualize_masking.py CONFIG (--ann-file FILE | --synthetic) [--index I]
        [--split NAME] --out masking.png|masking.gif [--compare] [--frames 6]
        [--gif-step 2] [--seed 0] [--azim 30] [--elev 10] [--layout NAME]

The clip (the ``I``-th of split ``NAME``, by default the config's training split, of an
MMAction2 skeleton pickle, 3D or 2D, or of a small synthetic set generated with
``--synthetic``: NTU-25 3D skeletons, or their COCO-17 2D projections when the config
reads 2D keypoints) goes through the config's training pipeline up to and including its
token-masking transform, as in training (crop, resize, rotation, masking; numpy seeded by
``--seed``), read by ``SkeletonPoseDataset`` with the config's dataset settings
(``layout``, ``num_coords``, ``with_score``, ``normalize_2d``). A token is one joint over
``patch_len`` frames.

The bones and joint names are the joint layout's (:mod:`gfp_mmaction.utils.joint_layouts`):
``--layout``, else the config dataset's ``layout``, else the one registered layout with
the clip's joint count (25: NTU-25, 17: COCO-17); joints only, when there is none.

PNG: for every strategy a row of skeletons at evenly spaced frames (3D: projected
orthographically after turning the view by ``--azim`` about the vertical axis and
``--elev`` about the horizontal one; 2D: the image plane, upright), visible joints filled
blue and masked ones hollow red, and beside it the token grid (joints x patch rows,
persons stacked) shaded
by the motion that motion-aware masking looks at, with the visible tokens marked; its
title says how much the visible tokens move compared with the clip's average token.
GIF: the same skeletons animated over the clip, every ``--gif-step`` frames.
``--compare`` adds the other strategy (motion-aware <-> random, same mask ratio and
patch length) on the same preprocessed clip, drawing its mask independently (numpy
seeded ``seed + 1``: with equal seeds both would share their uniform draws and differ
only where the motion term reorders the tokens).
"""
import argparse
import copy
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import gfp_mmaction  # noqa: E402,F401  (registers the transforms)
from gfp_mmaction.testing.synthetic import write_synthetic_ntu  # noqa: E402
from gfp_mmaction.testing.synthetic.two_d import write_synthetic_ntu_2d  # noqa: E402
from gfp_mmaction.utils import patchify, token_motion_magnitude  # noqa: E402
from gfp_mmaction.utils.joint_layouts import LAYOUTS, JointLayout, get_layout, guess_layout  # noqa: E402
from gfp_mmaction.visualization import check_out_path, save_figure, write_atomically  # noqa: E402

MASKINGS = ('MotionAwareTokenMasking', 'RandomTokenMasking')
# The dataset settings that decide what a clip holds (SkeletonPoseDataset's arguments).
DATA_KEYS = ('layout', 'num_joints', 'num_coords', 'with_score', 'normalize_2d')
VISIBLE, MASKED, BONE = '#1f5fbf', '#d62728', '#9a9a9a'


# ------------------------------------------------------------------ data

def masking_pipelines(config: str, compare: bool) -> Tuple[List[dict], List[dict], str, dict]:
    """The config's train pipeline cut at its masking transform.

    Returns the steps before the masking, the masking (and with ``compare`` the other
    strategy, same mask ratio and patch length), the training split of the config and its
    training dataset's layout and channel settings (:data:`DATA_KEYS` it sets).
    ``PackActionInputs`` and what follows are left out: the drawing needs the raw arrays.
    """
    from mmengine.config import Config

    from gfp_mmaction.datasets import per_sample_config
    cfg = Config.fromfile(config)
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    if dataset.get('type') == 'SkeletonClipDataset':
        # The batched path masks on the device; its per-sample reference is the same math.
        cfg = per_sample_config(cfg)
        dataset = cfg.train_dataloader.dataset
    pipeline = dataset.get('pipeline') or cfg.get('train_pipeline')
    if not pipeline:
        raise SystemExit(f'visualize_masking: {config} defines no train_pipeline')
    steps = [dict(step) for step in pipeline]
    where = [i for i, step in enumerate(steps) if step.get('type') in MASKINGS]
    if not where:
        raise SystemExit(f'visualize_masking: the train pipeline of {config} has no token '
                         f'masking transform (one of {", ".join(MASKINGS)})')
    masking = steps[where[0]]
    maskings = [masking]
    if compare:
        maskings.append(dict(type=MASKINGS[1] if masking['type'] == MASKINGS[0] else MASKINGS[0],
                             mask_ratio=masking.get('mask_ratio', 0.9),
                             patch_len=masking.get('patch_len', 4)))
    settings = {key: dataset[key] for key in DATA_KEYS if dataset.get(key) is not None}
    return steps[:where[0]], maskings, dataset.get('split'), settings


def describe(masking: dict) -> str:
    args = ', '.join(f'{k}={v}' for k, v in masking.items() if k != 'type')
    name = 'motion-aware' if masking['type'] == MASKINGS[0] else 'random'
    return f'{name} masking ({args})'


def load_clips(ann_file: str, split: str, index: int, preprocess: Sequence[dict],
               maskings: Sequence[dict], seed: int, settings: Dict = None) -> List[Dict]:
    """Clip ``index`` of ``split`` of ``ann_file``, read by ``SkeletonPoseDataset`` with
    the dataset ``settings`` (:data:`DATA_KEYS`), through the ``preprocess`` steps once
    (numpy seeded by ``seed``), then through each masking (seeded ``seed + k``, so that
    the strategies draw independently).

    Returns per masking the pipeline's results: ``keypoint`` ``(1, M, T, V, C)``,
    ``token_mask`` ``(1, M, L)`` bool (True = masked), ``frame_dir``, ``label``."""
    from mmaction.registry import TRANSFORMS
    from mmengine.registry import init_default_scope

    from gfp_mmaction.datasets import SkeletonPoseDataset
    init_default_scope('mmaction')
    dataset = SkeletonPoseDataset(ann_file=ann_file, split=split,
                                  pipeline=copy.deepcopy(list(preprocess)), **(settings or {}))
    if not 0 <= index < len(dataset):
        raise SystemExit(f'visualize_masking: --index {index} is out of range: split {split!r} '
                         f'of {ann_file} holds {len(dataset)} clips')
    np.random.seed(seed)
    preprocessed = dataset.prepare_data(index)
    if 'keypoint' not in preprocessed:
        raise SystemExit(f'visualize_masking: {ann_file}, sample '
                         f'{preprocessed.get("frame_dir")!r}: the pipeline made no "keypoint"')
    clips = []
    for k, masking in enumerate(maskings):
        np.random.seed(seed + k)
        clips.append(TRANSFORMS.build(dict(masking))(copy.deepcopy(preprocessed)))
    return clips


# ------------------------------------------------------------------ drawing

def project(points: np.ndarray, azim: float, elev: float) -> np.ndarray:
    """``(..., 3)`` camera-frame points (x right, y up, z away) -> ``(..., 2)`` view."""
    a, e = np.radians(azim), np.radians(elev)
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    x1, z1 = np.cos(a) * x + np.sin(a) * z, -np.sin(a) * x + np.cos(a) * z
    y1 = np.cos(e) * y - np.sin(e) * z1
    return np.stack([x1, y1], axis=-1)


def choose_layout(requested, configured, num_joints: int) -> Optional[JointLayout]:
    """The layout to draw with: ``requested`` (``--layout``), else ``configured`` (the
    config dataset's), else :func:`guess_layout` of the clip's joint count.

    Raises:
        SystemExit: the chosen layout has another joint count than the clip.
    """
    spec = requested if requested is not None else configured
    layout = get_layout(spec) if spec is not None else guess_layout(num_joints)
    if layout is not None and layout.num_joints != num_joints:
        raise SystemExit(f'visualize_masking: layout {layout.name!r} has {layout.num_joints} '
                         f'joints, the clip {num_joints}')
    return layout


class Clip:
    """One pipeline output, ready to draw: persons that are not zero padding only.

    Args:
        results (dict): the pipeline's output.
        patch_len (int): frames per token.
        azim (float): the view of a 3D clip (azimuth), degrees.
        elev (float): the view of a 3D clip (elevation), degrees.
        coord_dims (int): coordinates per joint, 3 (projected with ``azim`` / ``elev``)
            or 2 (image coordinates, y down: drawn upright); later channels are not
            drawn. Defaults to 3.
        layout (JointLayout, optional): the joint layout, or None. Defaults to None.

    Attributes:
        xy (np.ndarray): ``(P, T, V, 2)`` drawn joints.
        mask (np.ndarray): ``(P, T_e, V)`` bool.
        motion (np.ndarray): ``(P, T_e, V)`` per-token motion (every channel, as the
            masking sees it).
        patch_len (int): frames per token.
        layout (JointLayout, optional): None: no bones, joints numbered.
    """

    def __init__(self, results: Dict, patch_len: int, azim: float, elev: float,
                 coord_dims: int = 3, layout: Optional[JointLayout] = None):
        keypoint = np.asarray(results['keypoint'], dtype=np.float64)[0]  # (M, T, V, C)
        M, T, V, _ = keypoint.shape
        mask = np.asarray(results['token_mask'])[0].reshape(M, T // patch_len, V)
        real = np.abs(keypoint).reshape(M, -1).max(axis=1) > 0
        coords = keypoint[real][..., :coord_dims]
        self.xy = project(coords, azim, elev) if coord_dims == 3 else \
            coords * np.array([1.0, -1.0])  # image y points down
        self.mask = mask[real]
        self.motion = token_motion_magnitude(patchify(keypoint[real], patch_len))
        self.patch_len = patch_len
        self.layout = layout
        self.name = f'{results.get("frame_dir", "clip")} (label {results.get("label", "?")})'

    @property
    def num_frames(self) -> int:
        return self.xy.shape[1]

    def visible_motion_ratio(self) -> float:
        """Mean motion of the visible tokens / mean motion of all tokens."""
        return float(self.motion[~self.mask].mean() / max(self.motion.mean(), 1e-12))

    def limits(self) -> Tuple[Tuple[float, float], Tuple[float, float]]:
        low, high = self.xy.reshape(-1, 2).min(0), self.xy.reshape(-1, 2).max(0)
        pad = 0.08 * (high - low).max()
        return (low[0] - pad, high[0] + pad), (low[1] - pad, high[1] + pad)

    def draw_frame(self, ax, frame: int) -> None:
        """Skeletons at ``frame``; joints styled by their token's mask."""
        row = frame // self.patch_len
        bones = self.layout.edges if self.layout is not None else ()
        for person in range(self.xy.shape[0]):
            xy, hidden = self.xy[person, frame], self.mask[person, row]
            for a, b in bones:
                ax.plot(xy[[a, b], 0], xy[[a, b], 1], color=BONE, linewidth=1.6, zorder=1)
            ax.scatter(xy[hidden, 0], xy[hidden, 1], s=22, facecolors='white',
                       edgecolors=MASKED, linewidths=1.2, zorder=2)
            ax.scatter(xy[~hidden, 0], xy[~hidden, 1], s=34, color=VISIBLE, zorder=3)
        (x0, x1), (y0, y1) = self.limits()
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect('equal')
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f'frame {frame} (patch row {row})', fontsize=8)

    def draw_tokens(self, ax, rows: Sequence[int]) -> None:
        """Token grid, joints down and patch rows across, persons stacked: motion as
        shade, visible tokens as dots, the drawn frames' rows as dashed lines."""
        P, T_e, V = self.mask.shape
        motion = self.motion.transpose(0, 2, 1).reshape(P * V, T_e)
        visible = ~self.mask.transpose(0, 2, 1).reshape(P * V, T_e)
        ax.imshow(motion, aspect='auto', cmap='Greys', interpolation='nearest')
        joint, row = np.nonzero(visible)
        ax.scatter(row, joint, s=9, color=VISIBLE, marker='o', linewidths=0)
        for r in rows:
            ax.axvline(r, color='#e0a000', linewidth=0.8, linestyle='--')
        for p in range(1, P):
            ax.axhline(p * V - 0.5, color='black', linewidth=1)
        ax.set_yticks(range(P * V))
        names = [self.layout.joint_name(j) if self.layout else f'joint {j}' for j in range(V)]
        ax.set_yticklabels([names[j] for _ in range(P) for j in range(V)], fontsize=4.5)
        ax.set_xlabel('patch row (time)', fontsize=8)
        ax.tick_params(axis='x', labelsize=7)
        ax.set_title(f'tokens: shade = motion, dots = visible ({int(visible.sum())} of '
                     f'{visible.size})\nthe visible tokens move '
                     f'{self.visible_motion_ratio():.2f}x as much as the average token',
                     fontsize=8)


def draw_png(clips: List[Tuple[str, Clip]], out: Path, frames: int) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    first = clips[0][1]
    T_e = first.mask.shape[1]
    rows = np.unique(np.linspace(0, T_e - 1, frames).round().astype(int))
    fig = plt.figure(figsize=(1.9 * len(rows) + 7.5, 3.8 * len(clips)))
    # A spacer column keeps the token grid's joint names off the last skeleton.
    grid = fig.add_gridspec(len(clips), len(rows) + 2, width_ratios=[1] * len(rows) + [0.45, 3.2],
                            wspace=0.08, hspace=0.45)
    for i, (name, clip) in enumerate(clips):
        for j, row in enumerate(rows):
            ax = fig.add_subplot(grid[i, j])
            clip.draw_frame(ax, int(row) * clip.patch_len + clip.patch_len // 2)
            if j == 0:
                ax.set_ylabel(name.replace(' (', '\n('), fontsize=8)
        clip.draw_tokens(fig.add_subplot(grid[i, -1]), rows)
    legend = [Line2D([], [], marker='o', linestyle='', color=VISIBLE, label='visible token'),
              Line2D([], [], marker='o', linestyle='', markerfacecolor='white',
                     markeredgecolor=MASKED, label='masked token'),
              Line2D([], [], color=BONE, label=f'bone ({first.layout.name})' if first.layout
                     else 'no layout: no bones')]
    fig.legend(handles=legend, loc='upper center', ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1.0 + 0.02 / len(clips)))
    fig.suptitle(first.name, y=1.0 + 0.07 / len(clips), fontsize=10)
    return save_figure(fig, out)


def draw_gif(clips: List[Tuple[str, Clip]], out: Path, step: int = 2, fps: int = 12) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter
    fig, axes = plt.subplots(1, len(clips), figsize=(3.4 * len(clips), 3.9), squeeze=False)
    fig.suptitle(clips[0][1].name, fontsize=9)

    def update(frame):
        for ax, (name, clip) in zip(axes[0], clips):
            ax.cla()
            clip.draw_frame(ax, frame)
            ax.set_xlabel(name.replace(' (', '\n('), fontsize=7)

    animation = FuncAnimation(fig, update, frames=range(0, clips[0][1].num_frames, step))
    try:
        return write_atomically(out, lambda tmp: animation.save(tmp, writer=PillowWriter(fps=fps)))
    finally:
        plt.close(fig)


# ------------------------------------------------------------------ command line

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='pre-training config whose train pipeline masks tokens')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--ann-file', help='MMAction2 NTU-format annotation pickle')
    source.add_argument('--synthetic', action='store_true',
                        help='a small synthetic NTU-style set generated on the fly (seed 0)')
    parser.add_argument('--index', type=int, default=0, help='clip index within the split')
    parser.add_argument('--split', help="split of the pickle (default: the config's "
                        "training split, else 'xsub_train')")
    parser.add_argument('--out', required=True, help='output picture: .png or .gif')
    parser.add_argument('--compare', action='store_true',
                        help='also draw the other strategy (motion-aware <-> random)')
    parser.add_argument('--frames', type=int, default=6, help='skeletons per row in a PNG')
    parser.add_argument('--gif-step', type=int, default=2, help='frames between GIF images')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the preprocessing draws; masking k draws with seed + k')
    parser.add_argument('--azim', type=float, default=30.0, help='view turn, degrees')
    parser.add_argument('--elev', type=float, default=10.0, help='view tilt, degrees')
    parser.add_argument('--layout', choices=sorted(LAYOUTS), default=None,
                        help="joint layout of the bones (default: the config dataset's "
                        "layout, else the one with the clip's joint count)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = check_out_path(args.out, ('.png', '.gif'))
    if args.frames < 1 or args.gif_step < 1:
        raise SystemExit(f'visualize_masking: --frames and --gif-step must be >= 1, got '
                         f'{args.frames} and {args.gif_step}')
    preprocess, maskings, train_split, settings = masking_pipelines(args.config, args.compare)
    split = args.split or train_split or 'xsub_train'
    coord_dims = settings.get('num_coords', 3)
    with tempfile.TemporaryDirectory() as tmp:
        ann_file = args.ann_file
        if args.synthetic:  # NTU-25 3D, or its COCO-17 2D projection for a 2D config
            ann_file = str(Path(tmp) / 'synthetic_ntu.pkl')
            write = write_synthetic_ntu_2d if coord_dims == 2 else write_synthetic_ntu
            write(ann_file, subjects=2, views=2, reps=1, seed=0)
        elif not Path(ann_file).is_file():
            raise SystemExit(f'visualize_masking: --ann-file {ann_file} does not exist')
        results = load_clips(ann_file, split, args.index, preprocess, maskings, args.seed,
                             settings)
    num_joints = np.asarray(results[0]['keypoint']).shape[-2]
    layout = choose_layout(args.layout, settings.get('layout'), num_joints)
    clips = [(describe(masking), Clip(result, masking.get('patch_len', 4), args.azim, args.elev,
                                      coord_dims, layout))
             for masking, result in zip(maskings, results)]
    for name, clip in clips:
        print(f'{clip.name}, {name}: {int((~clip.mask).sum())} of {clip.mask.size} tokens '
              f'visible; they move {clip.visible_motion_ratio():.2f}x the average token')
    if out.suffix.lower() == '.gif':
        draw_gif(clips, out, args.gif_step)
    else:
        draw_png(clips, out, args.frames)
    print(f'visualize_masking: wrote {out}')
    return out


if __name__ == '__main__':
    main()
