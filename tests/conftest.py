"""Suite-wide: the time each tier of the suite took, printed at the end of every run.

CI has a fixed time budget; these lines say where the time of a run went.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
_SECONDS: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Node ids are relative to the repository: tests/<tier>/...
    parts = report.nodeid.split("::")[0].split("/")
    tier = parts[1] if len(parts) > 2 and parts[0] == TESTS.name else parts[0]
    _SECONDS[tier] += report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SECONDS:
        tiers = ", ".join(f"{tier} {seconds:.0f} s" for tier, seconds in sorted(_SECONDS.items()))
        terminalreporter.write_line(f"time per tier: {tiers}")
