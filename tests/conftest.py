"""Shared test set-up: the plugin must be imported before configs are built in Python
(``custom_imports`` is only honoured by ``Config.fromfile``)."""
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import gfp_mmaction  # noqa: E402,F401

os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT

