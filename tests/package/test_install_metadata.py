"""setup.py's ranges against requirements.txt's measured pins.

``install_requires`` holds the ranges the code supports (for an environment that already
has MMAction2); ``requirements.txt`` the exact set measured on a fresh machine. Every
line of requirements.txt must lie inside the matching range, else the two install paths
disagree about what works.
"""
import importlib.metadata
import math
import os
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def distribution():
    """setup.py as setuptools computes it (``stop_after='init'``: nothing is built)."""
    from distutils.core import run_setup

    import setuptools  # noqa: F401  (provides distutils on Python >= 3.12)
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        return run_setup(str(REPO / 'setup.py'), stop_after='init')
    finally:
        os.chdir(cwd)


def requirements_txt():
    lines = (REPO / 'requirements.txt').read_text().splitlines()
    return [Requirement(line.split('#')[0].strip()) for line in lines
            if line.split('#')[0].strip()]


def bounds(specifier):
    """``(lowest, highest)`` versions a specifier set admits, as ``(Version, inclusive)``
    pairs; ``None`` where it is open. Only the operators used here: ``== >= > <= <``."""
    low, high = None, None
    for spec in specifier:
        version = Version(spec.version)
        if spec.operator in ('==', '>=', '>'):
            candidate = (version, spec.operator != '>')
            if low is None or candidate[0] > low[0] or \
                    (candidate[0] == low[0] and not candidate[1]):
                low = candidate
        if spec.operator in ('==', '<=', '<'):
            candidate = (version, spec.operator != '<')
            if high is None or candidate[0] < high[0] or \
                    (candidate[0] == high[0] and not candidate[1]):
                high = candidate
        if spec.operator not in ('==', '>=', '>', '<=', '<'):
            raise AssertionError(f'operator {spec.operator!r} in {specifier} is not handled')
    return low, high


def inside(inner, outer) -> bool:
    """Whether every version ``inner`` admits is admitted by ``outer`` (both ranges)."""
    (inner_low, inner_high), (outer_low, outer_high) = bounds(inner), bounds(outer)

    def key_low(b):
        return (-math.inf, ) if b is None else (b[0], not b[1])

    def key_high(b):
        return (math.inf, ) if b is None else (b[0], b[1])

    low_ok = outer_low is None or (inner_low is not None and
                                   key_low(inner_low) >= key_low(outer_low))
    high_ok = outer_high is None or (inner_high is not None and
                                     key_high(inner_high) <= key_high(outer_high))
    return low_ok and high_ok


def test_bounds_helper_on_hand_checked_cases():
    from packaging.specifiers import SpecifierSet as S
    assert inside(S('==2.13.0'), S('>=2.6'))
    assert not inside(S('==2.5.1'), S('>=2.6'))
    assert inside(S('>=1.26,<3'), S('>=1.26,<3'))
    assert not inside(S('>=1.25,<3'), S('>=1.26,<3'))
    assert not inside(S('>=1.26'), S('>=1.26,<3'))          # open above, outer is not
    assert inside(S('==0.10.7'), S('>=0.10.0,<0.11'))
    assert not inside(S('==0.11.0'), S('>=0.10.0,<0.11'))    # the excluded end
    assert inside(S('==2.1.0'), S('>=2.0.0rc4,<2.2.0'))
    assert inside(S(''), S(''))


def test_every_pin_of_requirements_txt_lies_inside_the_setup_py_range(distribution):
    """Each requirements.txt line's versions are a subset of setup.py's range for that
    package: install_requires, an extra (mmcv-lite, pytest), or, for a package the plugin
    only needs through MMAction2 (scipy), MMAction2's own requirement."""
    ranges = {}
    for requirement in map(Requirement, distribution.install_requires):
        ranges[canonicalize_name(requirement.name)] = ('install_requires', requirement)
    for extra, requirements in distribution.extras_require.items():
        for requirement in map(Requirement, requirements):
            ranges.setdefault(canonicalize_name(requirement.name),
                              (f'extra [{extra}]', requirement))
    for requirement in map(Requirement, importlib.metadata.requires('mmaction2')):
        if requirement.marker is None:  # its install_requires, not its extras
            ranges.setdefault(canonicalize_name(requirement.name),
                              ('mmaction2', requirement))
    for pinned in requirements_txt():
        name = canonicalize_name(pinned.name)
        assert name in ranges, f'requirements.txt: {pinned} has no counterpart in setup.py'
        where, supported = ranges[name]
        assert inside(pinned.specifier, supported.specifier), \
            f'requirements.txt: {pinned} is not inside setup.py {where}: {supported}'


def test_install_requires_are_ranges_that_hold_the_measured_stack(distribution):
    requirements = {canonicalize_name(r.name): r
                    for r in map(Requirement, distribution.install_requires)}
    # No exact pins: an environment with another torch / mmengine patch release keeps it.
    assert all(spec.operator != '==' for r in requirements.values() for spec in r.specifier)
    assert str(requirements['torch'].specifier) == '>=2.6'
    assert requirements['mmengine'].specifier == Requirement('x>=0.10.0,<0.11').specifier
    assert requirements['mmaction2'].specifier == Requirement('x>=1.2.0,<1.3').specifier
    assert requirements['numpy'].specifier == Requirement('x>=1.26,<3').specifier
    # The environment the tests run in (the measured one) is inside every range.
    for name, requirement in requirements.items():
        version = importlib.metadata.version(name)
        assert requirement.specifier.contains(version, prereleases=True), \
            f'installed {name} {version} is outside setup.py: {requirement}'


def test_mmcv_is_either_distribution_with_mmaction2s_range(distribution):
    import mmaction
    names = {canonicalize_name(Requirement(r).name) for r in distribution.install_requires}
    assert not names & {'mmcv', 'mmcv-lite', 'mmcv-full'}  # no forced choice
    mmaction_range = f'>={mmaction.mmcv_minimum_version},<{mmaction.mmcv_maximum_version}'
    for extra in ('mmcv', 'mmcv-lite'):
        (requirement, ) = map(Requirement, distribution.extras_require[extra])
        assert requirement.name == extra
        assert requirement.specifier == Requirement(f'x{mmaction_range}').specifier
    installed = []
    for name in ('mmcv', 'mmcv-lite'):
        try:
            installed.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            pass
    assert len(installed) == 1, f'expected one mmcv distribution, found {installed}'
    assert Requirement(f'x{mmaction_range}').specifier.contains(installed[0][1],
                                                               prereleases=True)
