"""The analysis benchmark and its write-up name no path of the machine they were made on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "analysis_bench.py"
# Absolute paths of a checkout or a home folder; system paths (/usr/bin/time, /proc) are fine.
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|home|root|Users|tmp)/")


@pytest.mark.parametrize("path", [BENCH, REPO / "docs" / "benchmarks-analysis.md"],
                         ids=lambda p: p.name)
def test_no_absolute_machine_paths(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert str(REPO) not in text
    assert not MACHINE_PATH.findall(text)


def test_benchmark_runs_from_any_directory(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(BENCH), "--records", "400", "--seconds", "20"],
                         cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "generated 10 tests, 400 per-second records" in run.stdout
    assert "summarise: load" in run.stdout
