"""gfp-mmaction's package metadata.

Two ways to install, two lists:

- ``install_requires`` below holds the RANGES the code supports, so that ``pip install -e .``
  adds the plugin to an environment that already has MMAction2 without replacing its torch,
  mmengine or numpy. Each bound is a fact about the code or the oldest release the tests
  were run on; the reason stands beside it. (scipy, opencv, einops come with mmaction2's
  own requirements: the plugin does not import them.)
- ``requirements.txt`` holds the EXACT set measured on a fresh machine (``pip install -r
  requirements.txt -e .``). Every pin there satisfies the range here
  (``tests/package/test_install_metadata.py`` checks it).

mmcv is not in ``install_requires``: the plugin works with either distribution of the
``mmcv`` package, full ``mmcv`` (with compiled ops) or ``mmcv-lite`` (pure Python; the
skeleton path needs no compiled op), and a requirement cannot say "either". Requiring one
would make pip install it over the other (both write the same ``mmcv/`` folder).
MMAction2 itself declares mmcv only in an extra, for the same reason. Choose with an extra:
``pip install -e .[mmcv-lite]`` or ``pip install -e .[mmcv]``, or nothing when an mmcv is
already installed. (Detecting an installed mmcv here would not work: pip runs this file in
an isolated build environment, and a wheel built on one machine would carry that
machine's choice.)
"""
from pathlib import Path

from setuptools import find_packages, setup

# MMAction2 1.2 asserts 2.0.0rc4 <= mmcv < 2.2.0 when it is imported.
MMCV_RANGE = '>=2.0.0rc4,<2.2.0'

INSTALL_REQUIRES = [
    # compat.py's checkpoint allowlist needs torch.serialization.safe_globals (with
    # (object, name) pairs) and get_unsafe_globals_in_checkpoint: first in torch 2.6.
    'torch>=2.6',
    # compat.py and the hooks patch and subclass mmengine 0.10 internals
    # (_init_dist_pytorch, CheckpointHook._save_checkpoint_with_step, ...): a minor
    # release may move them. 0.10.0 is the oldest checked.
    'mmengine>=0.10.0,<0.11',
    # PackActionInputs(algorithm_keys=...), which the per-sample pre-training pipeline
    # uses, is new in 1.2.0 (the last release; compat.py absorbs its packaging defect).
    'mmaction2>=1.2.0,<1.3',
    # numpy 2 works on the 3D-skeleton path; 1.26 is the oldest checked.
    'numpy>=1.26,<3',
    # mmengine's `mmaction::` config inheritance imports pkg_resources, which
    # setuptools 82 removed (81.0.0 still ships it).
    'setuptools<82',
    # mmaction2 imports it without declaring it.
    'importlib-metadata',
    'tqdm>=4.60',        # the converters' progress bars
    'matplotlib>=3.7',   # the demo's and tools/analysis' pictures
]

EXTRAS_REQUIRE = {
    'mmcv-lite': [f'mmcv-lite{MMCV_RANGE}'],
    'mmcv': [f'mmcv{MMCV_RANGE}'],
    # ruff exactly: its rules change between releases, and `ruff check .` must pass.
    'tests': ['pytest>=7.4', 'ruff==0.17.6'],
}

setup(
    name='gfp-mmaction',
    version='0.1.0',
    description='GFP (General Feature Prediction) self-supervised skeleton pre-training '
                'for MMAction2',
    long_description=Path(__file__).with_name('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['gfp_mmaction', 'gfp_mmaction.*']),
    python_requires='>=3.9',
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    license='Apache-2.0',
)
