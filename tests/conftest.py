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
    path = Path(report.fspath).resolve()
    tier = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else path.name
    _SECONDS[tier] += report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SECONDS:
        tiers = ", ".join(f"{tier} {seconds:.0f} s" for tier, seconds in sorted(_SECONDS.items()))
        terminalreporter.write_line(f"time per tier: {tiers}")
