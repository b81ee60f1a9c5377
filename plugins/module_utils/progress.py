"""Progress lines and ETA of a test set, as printed by the icperf.lab.progress callback."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

PREFIX = "icperf:"


def format_duration(seconds: float) -> str:
    """Hours and minutes, rounded up to the next minute: 301 s -> "0h06m"."""
    if not math.isfinite(seconds) or seconds < 0:
        raise IcperfInputError(f"seconds: {seconds!r} is not a duration")
    minutes = math.ceil(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _count(data: Mapping[str, object], key: str, where: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IcperfInputError(f"{where}.{key}: {value!r} is not a count")
    return value


@dataclass(frozen=True)
class Plan:
    """What the test set will do: total tests, how many run, how many are already done."""

    total: int
    to_run: int
    skipped: int
    seconds_per_test: float | None

    @classmethod
    def from_fact(cls, fact: object) -> Plan:
        if not isinstance(fact, Mapping):
            raise IcperfInputError(f"icperf_plan: {fact!r} is not a mapping")
        total = _count(fact, "total", "icperf_plan")
        skipped = _count(fact, "skipped", "icperf_plan", 0)
        to_run = _count(fact, "to_run", "icperf_plan", max(total - skipped, 0))
        seconds = fact.get("seconds_per_test")
        if isinstance(seconds, str):
            with contextlib.suppress(ValueError):
                seconds = float(seconds)
        if seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise IcperfInputError(
                f"icperf_plan.seconds_per_test: {seconds!r} is not a number of seconds"
            )
        return cls(total, to_run, skipped, None if seconds is None else float(seconds))


@dataclass
class ProgressTracker:
    """Turns icperf_plan / icperf_progress facts into lines, timing the tests as they go.

    A test's duration is the time between its progress event and the next one; the ETA is
    the mean of those durations times the tests left (this one included), or the plan's
    seconds_per_test before any test has finished.
    """

    clock: Callable[[], float] = time.monotonic
    plan: Plan | None = None
    starts: list[float] = field(default_factory=list)
    last_event: tuple[object, object] | None = None

    def on_plan(self, fact: object) -> str:
        self.plan = Plan.from_fact(fact)
        line = f"{PREFIX} {self.plan.total} tests ({self.plan.skipped} already done)"
        if self.plan.seconds_per_test is None:
            return line
        return f"{line}, estimated {format_duration(self.plan.to_run * self.plan.seconds_per_test)}"

    def mean_duration(self) -> float | None:
        if len(self.starts) < 2:
            return self.plan.seconds_per_test if self.plan else None
        return (self.starts[-1] - self.starts[0]) / (len(self.starts) - 1)

    def on_progress(self, fact: object) -> str | None:
        """Line for a test that starts now; None when the same event is seen again."""
        if not isinstance(fact, Mapping):
            raise IcperfInputError(f"icperf_progress: {fact!r} is not a mapping")
        index = _count(fact, "index", "icperf_progress")
        default_total = self.plan.total if self.plan else None
        total = _count(fact, "total", "icperf_progress", default_total)
        test_id = fact.get("id", "")
        if self.last_event == (index, test_id):
            return None
        self.last_event = (index, test_id)
        self.starts.append(self.clock())
        if self.plan is not None:
            left = max(self.plan.to_run - len(self.starts) + 1, 1)
        else:
            left = max(total - index + 1, 1)
        mean = self.mean_duration()
        eta = "unknown" if mean is None else format_duration(left * mean)
        return f"{PREFIX} test {index}/{total} {test_id} (ETA {eta})"

    def summary(self) -> str | None:
        """Closing line once tests have run: how many, and how long they took."""
        if not self.starts:
            return None
        elapsed = self.clock() - self.starts[0]
        return f"{PREFIX} {len(self.starts)} tests run in {format_duration(elapsed)}"
