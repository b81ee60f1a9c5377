"""The RTT histogram: percentiles within 1 % of the exact ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from icperf_run import NATIVE


def test_make_check_passes(icperf: Path) -> None:
    proc = subprocess.run(
        ["make", "-C", str(NATIVE), "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "selftest-hist: all ok" in proc.stdout


def nearest_rank(values: np.ndarray, q: float) -> int:
    ordered = np.sort(values)
    rank = max(1, int(np.ceil(q * len(ordered) - 1e-9)))
    return int(ordered[rank - 1])


DISTRIBUTIONS = {
    "lognormal-rtt": lambda rng: rng.lognormal(mean=np.log(50_000), sigma=0.6, size=100_000),
    "exponential": lambda rng: 2_000 + rng.exponential(scale=300_000, size=100_000),
    "pareto-tail": lambda rng: 10_000 * (1 + rng.pareto(a=1.5, size=100_000)),
    "uniform-ns": lambda rng: rng.uniform(0, 1_000, size=100_000),
    "two-clusters": lambda rng: np.concatenate(
        [rng.normal(30_000, 500, 99_000), rng.normal(8_000_000, 10_000, 1_000)]
    ),
}


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_percentiles_within_one_percent(icperf: Path, name: str) -> None:
    rng = np.random.default_rng(20190601)
    values = np.clip(DISTRIBUTIONS[name](rng), 0, 60e9).astype(np.int64)
    proc = subprocess.run(
        [str(icperf), "selftest-hist", "-"],
        input="\n".join(map(str, values)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["count"] == len(values)
    assert got["min"] == values.min() and got["max"] == values.max()
    assert sum(c for _, c in got["buckets"]) == len(values)
    for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)):
        exact = nearest_rank(values, q)
        assert abs(got[key] - exact) <= max(0.01 * exact, 0), (key, got[key], exact)
    # Every bucket value stands for samples within 1 %: the histogram's mean agrees too.
    approx_mean = sum(v * c for v, c in got["buckets"]) / len(values)
    assert abs(approx_mean - values.mean()) <= 0.01 * values.mean()
