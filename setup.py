from pathlib import Path

from setuptools import find_packages, setup


def read_requirements():
    lines = Path(__file__).with_name('requirements.txt').read_text().splitlines()
    reqs = [line.split('#')[0].strip() for line in lines]
    return [r for r in reqs if r and not r.startswith('pytest')]


setup(
    name='gfp-mmaction',
    version='0.1.0',
    description='GFP (General Feature Prediction) self-supervised skeleton pre-training '
                'for MMAction2',
    long_description=Path(__file__).with_name('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['gfp_mmaction', 'gfp_mmaction.*']),
    python_requires='>=3.9',
    install_requires=read_requirements(),
    license='Apache-2.0',
)
