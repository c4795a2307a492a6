"""Hypothesis profiles: ``ci`` (derandomized; selected automatically when CI=true) and ``dev``.

Our profiles name their parent explicitly so that ``dev`` never inherits CI settings.
"""
import os

from hypothesis import HealthCheck, settings

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
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("bnsym-ci")
else:
    settings.load_profile(os.environ.get("BNSYM_HYPOTHESIS_PROFILE", "dev"))
