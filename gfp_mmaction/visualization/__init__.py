"""Pictures of runs and features: what the plotting tools (``tools/analysis/plot_curves.py``,
``plot_features.py``, ``tools/visualize_masking.py``) and the demo share.

Not imported by ``import gfp_mmaction``: importing this package selects matplotlib's
file-only ``Agg`` backend (:mod:`.common`).
"""
from .common import check_out_path, save_figure, write_atomically
from .curves import load_curves, plot_curves, select_keys
from .features import embed_2d, knn_accuracy, load_features, pca_2d, plot_features

__all__ = ['check_out_path', 'save_figure', 'write_atomically', 'load_curves', 'plot_curves',
           'select_keys', 'embed_2d', 'knn_accuracy', 'load_features', 'pca_2d',
           'plot_features']
