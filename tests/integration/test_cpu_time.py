"""CPU time per test on this host: a linux-bridge and a basicfwd test, then the report.

Each test's test.json must carry the CPU time of both applets (and of testpmd) over the
senders' steady window, bounded by what the window allows, and the analysis must turn it
into cycles per packet next to the throughput.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .conftest import HOST_TEST_MARKS, base_vars, run_playbook
from .test_dpdk_lab import SWITCH_BINARIES

pytestmark = HOST_TEST_MARKS

DURATION = 12  # seconds 5..7 of the senders' run are the steady window
TICK_S = 0.01  # /proc's clock tick: a counter read twice may be off by one


def _cpu(folder: Path) -> dict[str, Any]:
    record = json.loads((folder / "test.json").read_text())
    assert record["status"] == "ok", record["reason"]
    cpu = record["cpu"]
    assert "error" not in cpu, cpu["error"]
    return cpu


def _check_window(cpu: dict[str, Any]) -> float:
    assert cpu["window"] == {"from_s": 5.0, "to_s": 7.0, "of": "senders' run"}
    assert cpu["window_s"] == pytest.approx(2.0, abs=0.3)
    assert cpu["clock_hz"] > 1e8 and cpu["clock"] == "cpuinfo"
    assert cpu["cores_used"] and set(map(str, cpu["cores_used"])) <= set(cpu["cores"])
    # Nothing can spend more than every core of the window it was measured over.
    limit = cpu["window_s"] * len(cpu["cores_used"]) + 2 * TICK_S
    assert 0 < cpu["busy_s"] <= limit
    assert 0 <= cpu["softirq_s"] <= cpu["busy_s"]
    return float(cpu["window_s"]) * (os.cpu_count() or 1) + 2 * TICK_S


def _process_seconds(cpu: dict[str, Any]) -> dict[str, float]:
    seconds = {}
    for proc in cpu["processes"]:
        assert proc["utime_s"] is not None, proc
        seconds[proc["role"]] = proc["utime_s"] + proc["stime_s"]
    return seconds


def test_cpu_time_per_process_and_cycles_per_packet(
    tmp_path: Path, clean_host: dict[str, Any], dpdk_host_lock: None
) -> None:
    if not Path(SWITCH_BINARIES["basicfwd"]).exists():
        pytest.skip(f"needs {SWITCH_BINARIES['basicfwd']} (scripts/setup.sh installs it)")
    extravars = base_vars(tmp_path, vswitches="linux-bridge,basicfwd", rates=100000,
                          duration=DURATION)  # fmt: skip
    del extravars["vswitch"]
    run = run_playbook(tmp_path, "testset.yml", extravars)
    assert run.rc == 0, run.stdout[-4000:]
    results = tmp_path / "results/icpl-pair"

    bridge = _cpu(results / f"d{DURATION}/32/linux-bridge/64/100000")
    limit = _check_window(bridge)
    seconds = _process_seconds(bridge)
    assert set(seconds) == {"send", "recv"}  # the kernel switch has no process
    assert all(0 < s <= limit for s in seconds.values()), seconds
    # The kernel path: the sender's packets cross the bridge in system time and softirq.
    assert sum(p["stime_s"] for p in bridge["processes"]) > 0

    dpdk = _cpu(results / f"c1-d{DURATION}/32/basicfwd/64/100000")
    limit = _check_window(dpdk)
    seconds = _process_seconds(dpdk)
    assert set(seconds) == {"send", "recv", "switch"}
    assert all(0 < s <= limit for s in seconds.values()), seconds
    (switch,) = [p for p in dpdk["processes"] if p["role"] == "switch"]
    assert switch["comm"] == "dpdk-testpmd"

    from icperf_analysis.cli import main

    out = tmp_path / "report"
    assert main([str(tmp_path / "results"), "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("vswitch")
    for vswitch in ("linux-bridge", "basicfwd"):
        row = summary.loc[vswitch]
        assert row["t_pps"] > 0 and row["cycles_per_pkt"] > 0, row
        # Every cycle of the test's cores over the packets received in the same window.
        expected = row["cpu_busy_s"] / row["cpu_window_s"] * row["cpu_clock_hz"] / row["t_pps"]
        assert row["cycles_per_pkt"] == pytest.approx(expected)
    assert summary.loc["basicfwd", "cycles_per_pkt_switch"] > 0
    html = (out / "report.html").read_text()
    assert "<th>cycles_per_pkt</th>" in html and "CPU cycles per packet vs packet size" in html
    assert list((out / "figures").glob("cycles_vs_pkt_*.png"))
