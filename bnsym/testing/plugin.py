"""The pytest plugin (entry point ``pytest11: bnsym = bnsym.testing.plugin``): installed with bnsym, no glue.

- Fixtures ``bn_check`` (:func:`bnsym.testing.check_batchnorm`) and ``bn_implementations`` (the reference and
  the known mistakes).
- Option ``--bnsym-profile={ci,thorough}`` and ini key ``bnsym_profile``: the Hypothesis profile of the kit.
  ``ci`` (the default) is derandomized: every run draws the same examples, so CI failures reproduce locally.
- A line in pytest's header saying which profile is in use.

Loading the plugin never fails, even without ``hypothesis``: the fixtures then raise
:class:`bnsym.errors.MissingDependencyError` when used.

>>> import bnsym.testing.plugin as plugin
>>> plugin.PROFILE_CHOICES
('ci', 'thorough')
"""
from __future__ import annotations

import pytest

PROFILE_CHOICES = ("ci", "thorough")


def pytest_addoption(parser) -> None:
    """Register ``--bnsym-profile`` and the ini key ``bnsym_profile``."""
    group = parser.getgroup("bnsym", "bnsym batch-norm property-test kit")
    group.addoption(
        "--bnsym-profile",
        choices=PROFILE_CHOICES,
        default=None,
        help="Hypothesis profile of bnsym.testing.check_batchnorm: ci (derandomized, default) or thorough",
    )
    parser.addini("bnsym_profile", "Hypothesis profile of bnsym.testing.check_batchnorm (ci or thorough)",
                  default="ci")


def _profile(config) -> str:
    name = config.getoption("bnsym_profile", default=None) or config.getini("bnsym_profile") or "ci"
    if name not in PROFILE_CHOICES:
        raise pytest.UsageError(f"bnsym_profile must be one of {PROFILE_CHOICES}, got {name!r}")
    return name


def pytest_configure(config) -> None:
    """Make the chosen profile the default of ``check_batchnorm``."""
    from . import HAVE_HYPOTHESIS

    name = _profile(config)
    if HAVE_HYPOTHESIS and name != "ci":  # "ci" is already the default: import nothing heavy in every run
        from .check import set_default_profile

        set_default_profile(name)


def pytest_report_header(config) -> str:
    """One header line naming the kit's profile."""
    return f"bnsym.testing: profile {_profile(config)!r}"


@pytest.fixture
def bn_check():
    """:func:`bnsym.testing.check_batchnorm`, using the profile chosen on the command line or in the ini file."""
    from . import check_batchnorm

    return check_batchnorm


@pytest.fixture
def bn_implementations():
    """The read-only mapping of NumPy reference and buggy implementations, by name."""
    from . import bn_implementations as registry

    return registry
