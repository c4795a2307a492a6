"""Hypothesis profiles: ``ci`` (derandomized; selected automatically when CI=true) and ``dev``; the ``torch``
fixture; CI refuses to start without PyTorch.

Our profiles name their parent explicitly so that ``dev`` never inherits CI settings.
"""
import os

import pytest
from hypothesis import HealthCheck, settings
from tools import IN_CI, TORCH_HINT, need_module

settings.register_profile(
    "bnsym-ci",
    parent=settings.get_profile("ci"),
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    parent=settings.get_profile("default"),
    max_examples=25,
    deadline=None,
)
if IN_CI:
    settings.load_profile("bnsym-ci")
else:
    settings.load_profile(os.environ.get("BNSYM_HYPOTHESIS_PROFILE", "dev"))


def pytest_sessionstart(session):
    """In CI the PyTorch cross-checks must run, not skip: refuse to start without torch."""
    import importlib.util

    if IN_CI and importlib.util.find_spec("torch") is None:
        raise pytest.UsageError("CI=true but PyTorch is not installed: the autograd cross-checks would be skipped "
                                "(pip install -e '.[test]' installs torch==2.13.0)")


@pytest.fixture(scope="session")
def torch():
    """PyTorch, for the tests that compare with it: skip without it locally, fail in CI (tests/tools.py)."""
    return need_module("torch", TORCH_HINT)
