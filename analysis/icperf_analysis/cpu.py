"""CPU cycles per packet: test.json's `cpu` block against the test's steady receive rate.

The playbooks read the CPU time of every applet, of the switch process and of the test's
cores at both ends of the senders' steady window (docs/results.md, `cpu`). Cycles per
packet are that CPU time per second of the window, times the clock the record names (the
mean `cpu MHz` of /proc/cpuinfo over the test's cores), over T, the packets per second all
receivers got in their steady windows (docs/analysis.md, CPU time per packet). With the
default --warmup 5 --cooldown 5 both windows are the same seconds of the senders' run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .records import ROLES, role_of

TEST_FILE = "test.json"
# Seconds columns read from the cpu block, one row per test.
SECONDS_COLUMNS = (
    "cpu_applets_s",
    *(f"cpu_{role}_s" for role in ROLES),
    "cpu_switch_s",
    "cpu_softirq_s",
    "cpu_system_s",
    "cpu_busy_s",
)
# Cycles per received packet, from the seconds column of the same stem.
CYCLE_COLUMNS = {
    "cycles_per_pkt": "cpu_busy_s",  # every cycle spent on the test's cores
    "cycles_per_pkt_applets": "cpu_applets_s",
    "cycles_per_pkt_switch": "cpu_switch_s",
    "cycles_per_pkt_softirq": "cpu_softirq_s",
}
# The per-test and per-configuration tables show these next to the throughput.
REPORT_COLUMNS = [*CYCLE_COLUMNS, "pmd_cycles_per_pkt"]
CPU_COLUMNS = [
    "cpu_window_s",
    "cpu_clock_hz",
    *SECONDS_COLUMNS,
    "pmd_packets",
    "pmd_processing_cycles",
    "pmd_idle_cycles",
    *REPORT_COLUMNS,
]


Number = float | pd.Series


def cycles_per_packet(cpu_s: Number, window_s: Number, clock_hz: Number, pps: Number) -> Number:
    """CPU seconds spent in a window of `window_s` s, as clock cycles per packet at `pps`."""
    return cpu_s / window_s * clock_hz / pps


def _process_seconds(processes: list[Any], wanted: set[str]) -> float:
    """utime + stime of the processes whose role is in `wanted`; NaN when one is unknown."""
    total = 0.0
    for proc in processes:
        role = proc.get("role")
        role = role if role == "switch" else role_of(str(role))
        if role not in wanted:
            continue
        utime, stime = proc.get("utime_s"), proc.get("stime_s")
        if not isinstance(utime, int | float) or not isinstance(stime, int | float):
            return float("nan")
        total += utime + stime
    return total


def _number(value: object) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else float("nan")  # type: ignore[arg-type]


def cpu_row(cpu: object) -> dict[str, float]:
    """The CPU columns of one test from its `cpu` block (all NaN when it has none)."""
    row = dict.fromkeys(CPU_COLUMNS, float("nan"))
    if not isinstance(cpu, dict) or "error" in cpu:
        return row
    processes = [p for p in cpu.get("processes") or [] if isinstance(p, dict)]
    row |= {
        "cpu_window_s": _number(cpu.get("window_s")),
        "cpu_clock_hz": _number(cpu.get("clock_hz")),
        "cpu_applets_s": _process_seconds(processes, set(ROLES)),
        "cpu_switch_s": (
            _process_seconds(processes, {"switch"})
            if any(p.get("role") == "switch" for p in processes)
            else float("nan")
        ),
        "cpu_softirq_s": _number(cpu.get("softirq_s")),
        "cpu_system_s": _number(cpu.get("system_s")),
        "cpu_busy_s": _number(cpu.get("busy_s")),
    }
    for role in ROLES:
        if any(role_of(str(p.get("role"))) == role for p in processes):
            row[f"cpu_{role}_s"] = _process_seconds(processes, {role})
    pmd = cpu.get("pmd")
    if isinstance(pmd, dict) and pmd:
        threads = [t for t in pmd.values() if isinstance(t, dict)]
        for name in ("packets", "processing_cycles", "idle_cycles"):
            # OVS's main thread reports packets but no cycles: sum what the threads report.
            values = [_number(t[name]) for t in threads if t.get(name) is not None]
            row[f"pmd_{name}"] = float(np.sum(values)) if values else float("nan")
        if row["pmd_packets"] > 0:
            row["pmd_cycles_per_pkt"] = row["pmd_processing_cycles"] / row["pmd_packets"]
    return row


def read_cpu(root: Path, tests: pd.DataFrame,
             blocks: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The CPU columns of every test (NaN for thesis logs and tests without a cpu block).

    `blocks` holds the cpu blocks already read, by the test's path; other tests' test.json
    are read here.
    """
    blocks = blocks or {}
    rows = []
    for source, path in zip(tests["source"], tests["path"], strict=True):
        cpu = None
        if source == "icperf" and path in blocks:
            cpu = blocks[path]
        elif source == "icperf":
            file = root / str(path) / TEST_FILE
            try:
                cpu = json.loads(file.read_text(encoding="utf-8")).get("cpu")
            except (OSError, ValueError) as exc:
                raise InputError(f"{file}: cannot read test description: {exc}") from exc
        rows.append(cpu_row(cpu))
    return pd.DataFrame(rows, index=tests.index, columns=CPU_COLUMNS)


def with_cycles(summary: pd.DataFrame, cpu: pd.DataFrame) -> pd.DataFrame:
    """Cycles per packet received (T, all receivers) for every seconds column."""
    cpu = cpu.copy()
    pps = summary["t_pps"].astype(float).where(summary["t_pps"] > 0)
    for name, seconds in CYCLE_COLUMNS.items():
        cpu[name] = cycles_per_packet(cpu[seconds], cpu["cpu_window_s"], cpu["cpu_clock_hz"], pps)
    return cpu


def add_cpu_columns(root: Path, summary: pd.DataFrame,
                    blocks: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The summary with the CPU columns appended (`blocks` as read_cpu takes them)."""
    return summary.join(with_cycles(summary, read_cpu(root, summary, blocks)))
