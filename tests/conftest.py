"""Shared test set-up: the plugin must be imported before configs are built in Python
(``custom_imports`` is only honoured by ``Config.fromfile``).

The tests live in folders that mirror the package (tests/models, tests/datasets, ...), with
no ``__init__.py`` (pytest imports each test file by its basename, so basenames are unique
across folders). The helper modules next to this file (``protocol_helpers``,
``robustness_helpers``, ``reference_math``) are imported by name from every folder: this
folder is put on ``sys.path`` here, before any test module is imported."""
import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
sys.path.insert(0, str(REPO_ROOT))
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import gfp_mmaction  # noqa: E402,F401

os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def synthetic_ann_file(tmp_path_factory) -> Path:
    """A small embedded NTU-format pickle: 10 classes, 2 subjects x 2 views = 40 clips,
    20 in each of xsub_train / xsub_val / xview_train / xview_val."""
    from gfp_mmaction.testing.synthetic import write_synthetic_ntu
    path = tmp_path_factory.mktemp('synthetic') / 'synthetic_ntu.pkl'
    write_synthetic_ntu(path, subjects=2, views=2, reps=1, seed=0)
    return path
