"""Time limits of a check: a deadline for each call of the implementation and a budget for the whole check.

``check_batchnorm`` gives its adapter a :class:`Clock`; every call of the code under test goes through
:meth:`Clock.call`, which measures it. A call slower than the per-call deadline, or any call once the whole check
has run longer than its budget, raises :class:`TimeLimitExceeded`. From then on every call raises the same error
at once, without calling the implementation again, so Hypothesis stops quickly instead of shrinking with a slow
implementation; ``check_batchnorm`` reports the slow call (what, how long, on which batch) as a failure.

A call is measured when it returns: a call that never returns cannot be interrupted (a thread or a signal would
change how the code under test runs); use pytest-timeout for that.

>>> clock = Clock(call_deadline=0.01, time_budget=60.0)
>>> clock.call("forward", lambda: 42)
42
>>> clock.calls
1
>>> import time
>>> clock.call("forward", time.sleep, 0.02)
Traceback (most recent call last):
...
bnsym.testing.timing.TimeLimitExceeded: forward took 0.0... s, over the per-call deadline of 0.01 s
>>> clock.call("backward", lambda: 0)   # stopped: the implementation is not called again
Traceback (most recent call last):
...
bnsym.testing.timing.TimeLimitExceeded: forward took 0.0... s, over the per-call deadline of 0.01 s
"""
from __future__ import annotations

import time
from typing import Any
from collections.abc import Callable

__all__ = ["Clock", "TimeLimitExceeded", "CALL_DEADLINE", "TIME_BUDGET"]

CALL_DEADLINE = 2.0
"""Default per-call deadline, in seconds (a batch-norm call on the kit's small batches takes microseconds)."""
TIME_BUDGET = 120.0
"""Default total time budget of one ``check_batchnorm`` call, in seconds."""


class TimeLimitExceeded(Exception):
    """A time limit of the check was exceeded (turned into a property failure by ``check_batchnorm``)."""


class Clock:
    """Measures the calls of the implementation against ``call_deadline`` and the check against ``time_budget``
    (seconds). ``deadline_note`` says where the per-call deadline came from, for the messages."""

    def __init__(self, call_deadline: float, time_budget: float, deadline_note: str = "") -> None:
        self.call_deadline, self.time_budget, self.deadline_note = call_deadline, time_budget, deadline_note
        self.started = time.perf_counter()
        self.calls, self.seconds, self.slowest = 0, 0.0, ("", 0.0)
        self.exceeded: str | None = None  # the message, once a limit was hit
        self.where: Any = None  # what `current` was then
        self.current: Any = None  # set by the kit: (property, case) being checked

    @property
    def elapsed(self) -> float:
        """Seconds since the check started."""
        return time.perf_counter() - self.started

    def call(self, what: str, fn: Callable, *args) -> Any:
        """``fn(*args)``, measured; ``what`` names the call in the messages."""
        self._stop_if_exceeded()
        self._check_budget()
        start = time.perf_counter()
        try:
            result = fn(*args)
        except BaseException:
            self._measure(what, time.perf_counter() - start)
            raise
        self._measure(what, time.perf_counter() - start)
        return result

    def limits(self, *, used: bool = True) -> str:
        """The limits and (``used``) the time used, for the report and the failure messages.

        >>> Clock(2.0, 120.0).limits()
        'time limits: 2 s per call, 120 s in total; used 0 s in 0 calls of the implementation'
        >>> Clock(0.2, 120.0, "the deadline of your settings").limits(used=False)
        'time limits: 0.2 s per call (the deadline of your settings), 120 s in total'
        """
        note = f" ({self.deadline_note})" if self.deadline_note else ""
        text = f"time limits: {self.call_deadline:g} s per call{note}, {self.time_budget:g} s in total"
        if used:
            text += f"; used {self.seconds:.3g} s in {self.calls} calls of the implementation"
            if self.slowest[0]:
                text += f" (slowest: {self.slowest[0]}, {self.slowest[1]:.3g} s)"
        return text

    def _measure(self, what: str, seconds: float) -> None:
        self.calls += 1
        self.seconds += seconds
        if seconds > self.slowest[1]:
            self.slowest = (what, seconds)
        if seconds > self.call_deadline and self.exceeded is None:
            self._trip(f"{what} took {seconds:.3g} s, over the per-call deadline of {self.call_deadline:g} s")
        self._check_budget()

    def _check_budget(self) -> None:
        if self.exceeded is None and self.elapsed > self.time_budget:
            self._trip(f"the check ran for {self.elapsed:.3g} s, over its total time budget of "
                       f"{self.time_budget:g} s")

    def _trip(self, message: str) -> None:
        self.exceeded, self.where = message, self.current
        self._stop_if_exceeded()

    def _stop_if_exceeded(self) -> None:
        if self.exceeded is not None:
            raise TimeLimitExceeded(self.exceeded)  # one place: Hypothesis sees one failure
