"""2-D maps of exported features, coloured by class, several feature files side by side
(``tools/analysis/plot_features.py``, the demo).

A feature file is an ``.npz`` as ``tools/extract_features.py`` writes it: ``features``
``(N, D)`` float, ``labels`` ``(N,)`` int and ``frame_dirs`` ``(N,)`` str. The map is t-SNE
(scikit-learn) when it is installed, else PCA (the two leading principal components, by
numpy's SVD). Above every panel: the leave-one-out 5-nearest-neighbour accuracy in the
full feature space (cosine similarity).
"""
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .common import check_out_path, save_figure

__all__ = ['METHODS', 'load_features', 'subsample', 'pca_2d', 'tsne_available', 'embed_2d',
           'knn_accuracy', 'plot_features']

METHODS = ('auto', 'tsne', 'pca')


def load_features(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read and check one feature file.

    Args:
        path (str): the ``.npz``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``features`` ``(N, D)`` float64 and ``labels``
        ``(N,)`` int64.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise SystemExit(f'plot_features: cannot read {path} as .npz ({error})')
    for key in ('features', 'labels'):
        if key not in fields:
            raise SystemExit(f'plot_features: {path} has no field "{key}" (fields: '
                             f'{", ".join(sorted(fields)) or "none"}); expected features '
                             '(N, D), labels (N,) and frame_dirs (N,)')
    features, labels = fields['features'], fields['labels']
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.number):
        raise SystemExit(f'plot_features: {path}: field "features" must be a numeric (N, D) '
                         f'array, got {features.dtype} {features.shape}')
    if labels.shape != (features.shape[0], ) or not np.issubdtype(labels.dtype, np.integer):
        raise SystemExit(f'plot_features: {path}: field "labels" must be ({features.shape[0]},) '
                         f'integers, one per feature row, got {labels.dtype} {labels.shape}')
    if features.shape[0] < 3:
        raise SystemExit(f'plot_features: {path}: field "features" has {features.shape[0]} '
                         'rows; a map needs at least 3')
    bad = np.flatnonzero(~np.isfinite(features).all(axis=1))
    if bad.size:
        names = fields.get('frame_dirs')
        where = names[bad[0]] if names is not None and len(names) == len(labels) else bad[0]
        raise SystemExit(f'plot_features: {path}: field "features" holds NaN or infinite values '
                         f'({bad.size} rows, the first is sample {where!s})')
    return features.astype(np.float64), labels.astype(np.int64)


def subsample(labels: np.ndarray, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a random subset of at most ``max_points`` rows.

    Args:
        labels (np.ndarray): ``(N,)``, one per row.
        max_points (int): the most rows kept.
        rng (np.random.Generator): the random source.

    Returns:
        np.ndarray: row indices, ascending.
    """
    if len(labels) <= max_points:
        return np.arange(len(labels))
    keep = rng.permutation(len(labels))[:max_points]
    return np.sort(keep)


def pca_2d(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Coordinates on the two leading principal components.

    Args:
        features (np.ndarray): ``(N, D)``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(N, 2)`` coordinates and the share of the
        variance each component explains.
    """
    centred = features - features.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    variance = s ** 2
    share = variance[:2] / max(variance.sum(), np.finfo(float).tiny)
    coords = u[:, :2] * s[:2]
    if coords.shape[1] < 2:  # one-dimensional features: the second axis is flat
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        share = np.pad(share, (0, 2 - share.shape[0]))
    return coords, share


def tsne_available() -> bool:
    """Whether scikit-learn's t-SNE can be imported."""
    try:
        import sklearn.manifold  # noqa: F401
    except ImportError:
        return False
    return True


def embed_2d(features: np.ndarray, method: str, seed: int) -> Tuple[np.ndarray, List[str]]:
    """A 2-D map of ``features``.

    Args:
        features (np.ndarray): ``(N, D)``.
        method (str): one of :data:`METHODS`; ``'auto'`` is t-SNE when scikit-learn is
            installed, else PCA.
        seed (int): t-SNE's random state.

    Returns:
        tuple[np.ndarray, list[str]]: ``(N, 2)`` coordinates and the two axis labels.
    """
    if method == 'auto':
        method = 'tsne' if tsne_available() else 'pca'
    if method == 'tsne':
        if not tsne_available():
            raise SystemExit('plot_features: --method tsne needs scikit-learn '
                             '(pip install scikit-learn); --method pca needs nothing more')
        from sklearn.manifold import TSNE
        perplexity = float(min(30.0, (len(features) - 1) / 3))
        coords = TSNE(n_components=2, perplexity=perplexity, init='pca', random_state=seed,
                      metric='cosine').fit_transform(features)
        return coords, ['t-SNE 1', 't-SNE 2']
    coords, share = pca_2d(features)
    return coords, [f'PC {i + 1} ({100 * share[i]:.0f} % of variance)' for i in range(2)]


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out ``k``-NN accuracy with cosine similarity, majority vote (ties go to
    the nearer neighbour's class).

    Args:
        features (np.ndarray): ``(N, D)``.
        labels (np.ndarray): ``(N,)``.
        k (int): neighbours (at most ``N - 1``).

    Returns:
        float: the share of rows whose neighbours vote for their own label.
    """
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    k = min(k, len(labels) - 1)
    nearest = np.argsort(-similarity, axis=1, kind='stable')[:, :k]  # nearest first
    correct = 0
    for row, label in zip(labels[nearest], labels):
        votes = {}
        for rank, neighbour in enumerate(row):
            count, first = votes.get(neighbour, (0, rank))
            votes[neighbour] = (count + 1, first)
        winner = max(votes, key=lambda c: (votes[c][0], -votes[c][1]))
        correct += winner == label
    return correct / len(labels)


def plot_features(files: Sequence[str], out: str, titles: Optional[Sequence[str]] = None,
                  method: str = 'auto', max_points: int = 2000, seed: int = 0,
                  class_names: Optional[Sequence[str]] = None) -> Path:
    """One 2-D map panel per feature file, points coloured by class; a PNG.

    Args:
        files (Sequence[str]): the ``.npz`` feature files.
        out (str): the picture (``.png``), written atomically.
        titles (Sequence[str], optional): panel title of each file (default: file stems).
        method (str): one of :data:`METHODS`.
        max_points (int): a random subset of rows is drawn above this many.
        seed (int): seed of the subset and of t-SNE.
        class_names (Sequence[str], optional): legend name of label 0, 1, ...

    Returns:
        Path: the picture.
    """
    import matplotlib.pyplot as plt
    if method not in METHODS:
        raise SystemExit(f'plot_features: --method {method}: expected one of {METHODS}')
    path = check_out_path(out)
    if titles and len(titles) != len(files):
        raise SystemExit(f'plot_features: {len(titles)} --titles for {len(files)} files')
    titles = list(titles) if titles else [Path(f).stem for f in files]
    loaded = [load_features(f) for f in files]
    classes = np.unique(np.concatenate([labels for _, labels in loaded]))
    if class_names is not None and len(class_names) <= classes.max():
        raise SystemExit(f'plot_features: {len(class_names)} --class-names, but the labels go '
                         f'up to {classes.max()}')
    colours = plt.get_cmap('tab10' if len(classes) <= 10 else 'tab20')
    colour_of = {c: colours(i % colours.N) for i, c in enumerate(classes)}

    fig, axes = plt.subplots(1, len(files), figsize=(5.2 * len(files), 5.0), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, (features, labels), title in zip(axes[0], loaded, titles):
        keep = subsample(labels, max_points, rng)
        features, labels = features[keep], labels[keep]
        coords, axis_labels = embed_2d(features, method, seed)
        accuracy = knn_accuracy(features, labels)
        size = float(np.clip(4000 / len(labels), 8, 40))  # small dots only when many
        for c in classes:
            chosen = labels == c
            if chosen.any():
                name = class_names[c] if class_names is not None else f'class {c}'
                ax.scatter(coords[chosen, 0], coords[chosen, 1], s=size, alpha=0.8,
                           color=colour_of[c], label=name, edgecolors='none')
        ax.set_title(f'{title}\n{len(labels)} clips, {features.shape[1]}-d, '
                     f'5-NN accuracy {100 * accuracy:.1f} %', fontsize=10)
        ax.set_xlabel(axis_labels[0], fontsize=8)
        ax.set_ylabel(axis_labels[1], fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = axes[0, 0].get_legend_handles_labels()
    for ax in axes[0, 1:]:  # the legend from the panel with most classes
        h, n = ax.get_legend_handles_labels()
        if len(n) > len(names):
            handles, names = h, n
    fig.legend(handles, names, loc='center left', bbox_to_anchor=(1.0, 0.5), fontsize=8,
               frameon=False, markerscale=1.5)
    fig.tight_layout()
    return save_figure(fig, path)
