"""The replay's error type and its report: plain data, JSON in and out, no SymPy.

>>> step = StepReport(id=0, kind="eq", numeric="pass", exact="pass", points=5, max_error=0.0)
>>> report = ReplayReport(ok=True, theorem="demo", holds=True, steps=(step,))
>>> ReplayReport.from_dict(report.to_dict()) == report
True
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BnsymError

__all__ = ["ReplayError", "StepReport", "ReplayReport", "REPORT_FORMAT"]

REPORT_FORMAT = "bnsym-replay-report/1"


class ReplayError(BnsymError, ValueError):
    """A certificate that cannot be replayed: malformed JSON, a refused expression, or a failed replay process."""


@dataclass(frozen=True)
class StepReport:
    """The verdict on one step.

    ``numeric`` is ``"pass"``, ``"fail"`` or ``"unchecked"`` (no admissible point where both sides are
    defined); ``exact`` is ``"pass"``, ``"fail"`` or ``"not expressible"``; ``points`` counts the points
    evaluated; ``max_error`` is the largest relative error (``eq``/``lemma``), the largest relative excess
    of ``lhs`` over ``rhs`` (``le``, 0 when it holds) or ``None`` (``ne``, see ``note``).

    >>> StepReport(id=1, kind="le", numeric="fail", exact="not expressible", points=5, max_error=0.5).passed
    False
    """

    id: int
    kind: str
    numeric: str
    exact: str
    points: int
    max_error: float | None
    rule: str | None = None
    note: str = ""

    @property
    def passed(self) -> bool:
        """The numeric check passed and the exact check did not fail."""
        return self.numeric == "pass" and self.exact != "fail"


@dataclass(frozen=True)
class ReplayReport:
    """The verdict on a certificate: ``ok`` when it has steps and every step :attr:`~StepReport.passed`.

    >>> ReplayReport(ok=False, theorem="t", holds=True, steps=()).failed
    ()
    """

    ok: bool
    theorem: str
    holds: bool | None
    steps: tuple[StepReport, ...]
    seed: int = 0
    engines: tuple[tuple[str, str], ...] = ()
    bnsym_modules: tuple[str, ...] = ()
    ignored_hypotheses: tuple[str, ...] = ()
    format: str = field(default=REPORT_FORMAT)

    @property
    def failed(self) -> tuple[int, ...]:
        """Ids of the steps that did not pass (failed or unchecked)."""
        return tuple(step.id for step in self.steps if not step.passed)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the output of ``python -m bnsym.replay``)."""
        data = asdict(self)
        data["engines"] = dict(self.engines)
        data["steps"] = [asdict(step) for step in self.steps]
        data["bnsym_modules"] = list(self.bnsym_modules)
        data["ignored_hypotheses"] = list(self.ignored_hypotheses)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplayReport:
        """Read back :meth:`to_dict`; a report that does not have this shape raises :class:`ReplayError`."""
        try:
            if data.get("format") != REPORT_FORMAT:
                raise ReplayError(f"not a replay report (format {data.get('format')!r})")
            steps = tuple(StepReport(**step) for step in data["steps"])
            return cls(
                ok=bool(data["ok"]),
                theorem=str(data["theorem"]),
                holds=data["holds"],
                steps=steps,
                seed=int(data["seed"]),
                engines=tuple((str(k), str(v)) for k, v in data["engines"].items()),
                bnsym_modules=tuple(data["bnsym_modules"]),
                ignored_hypotheses=tuple(data["ignored_hypotheses"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            if isinstance(error, ReplayError):
                raise
            raise ReplayError(f"malformed replay report: {error}") from None
