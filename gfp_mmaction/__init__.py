"""gfp-mmaction: GFP (General Feature Prediction) self-supervised pre-training for MMAction2.

Importing the package first absorbs the stack defects (:mod:`gfp_mmaction.compat`),
then imports every part so that it registers into MMAction2's registries. Configs load
it with ``custom_imports=dict(imports=['gfp_mmaction'], allow_failed_imports=False)``.
"""
from .compat import apply_stack_fixes

apply_stack_fixes()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__version__ = '0.1.0'
