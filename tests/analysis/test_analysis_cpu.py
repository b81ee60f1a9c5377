"""CPU cycles per packet from test.json's cpu block (docs/analysis.md, CPU time per packet)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from icperf_analysis.aggregate import Window, aggregate
from icperf_analysis.cli import main
from icperf_analysis.cpu import cpu_row, cycles_per_packet
from icperf_analysis.load import load_results
from icperf_analysis.plots import build_all

from analysis_trees import analyse, throughput_test

CLOCK_HZ = 3_000_000_000


def cpu_block(send: float = 1.0, recv: float = 0.5, switch: float | None = 2.0,
              busy: float = 4.0, softirq: float = 0.25, window_s: float = 2.0,
              pmd: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """A cpu block as the playbooks write it (docs/results.md)."""
    processes = [
        {"role": "send", "name": "icp0.send", "pid": 10, "comm": "icperf",
         "utime_s": send * 0.25, "stime_s": send * 0.75},
        {"role": "dpdk-recv", "name": "icp1.recv", "pid": 11, "comm": "icperf",
         "utime_s": recv, "stime_s": 0.0},
    ]  # fmt: skip
    if switch is not None:
        processes.append({"role": "switch", "name": "testpmd", "pid": 12,
                          "comm": "dpdk-testpmd", "utime_s": switch, "stime_s": 0.0})
    return {"window": {"from_s": 5.0, "to_s": 7.0, "of": "senders' run"},
            "window_s": window_s, "start": 1.0, "end": 3.0, "clock_hz": CLOCK_HZ,
            "clock": "cpuinfo", "tick_hz": 100, "cores_used": [1], "processes": processes,
            "softirq_s": softirq, "system_s": 1.0, "busy_s": busy, "cores": {}, "pmd": pmd}


def add_cpu(folder: Path, cpu: Any) -> None:
    path = folder / "test.json"
    doc = json.loads(path.read_text())
    doc["cpu"] = cpu
    path.write_text(json.dumps(doc))


def test_cycles_per_packet_is_cpu_per_second_times_clock_over_rate() -> None:
    # One core busy for the whole window at 3 GHz, one million packets a second.
    assert cycles_per_packet(2.0, 2.0, 3e9, 1e6) == 3000.0
    assert cycles_per_packet(0.5, 2.0, 3e9, 1e6) == 750.0


def test_cpu_row_sums_by_role_and_keeps_unknowns_unknown() -> None:
    row = cpu_row(cpu_block())
    assert row["cpu_send_s"] == 1.0 and row["cpu_recv_s"] == 0.5
    assert row["cpu_applets_s"] == 1.5 and row["cpu_switch_s"] == 2.0
    assert math.isnan(row["cpu_client_s"])  # no client in this test
    block = cpu_block(switch=None)
    block["processes"][0]["utime_s"] = None  # the sender was gone at the window's end
    row = cpu_row(block)
    assert math.isnan(row["cpu_applets_s"]) and math.isnan(row["cpu_send_s"])
    assert row["cpu_recv_s"] == 0.5 and math.isnan(row["cpu_switch_s"])
    assert all(math.isnan(v) for v in cpu_row({"error": "no start record"}).values())
    assert all(math.isnan(v) for v in cpu_row(None).values())


def test_summary_has_cycles_per_packet_next_to_the_throughput(tmp_path: Path) -> None:
    pmd = {"pmd thread numa_id 0 core_id 1": {"packets": 2000, "processing_cycles": 500000,
                                              "idle_cycles": 100},
           "main thread": {"packets": 0}}  # as OVS 3.1 reports it: no cycles
    with_cpu = throughput_test(tmp_path, [500_000.0], vswitch="ovs")
    add_cpu(with_cpu, cpu_block(pmd=pmd))
    throughput_test(tmp_path, [400_000.0], vswitch="linux-bridge")  # an older record
    _, agg = analyse(tmp_path)
    s = agg.summary.set_index("vswitch")
    ovs = s.loc["ovs"]
    assert ovs["t_pps"] == 500_000.0
    # 4 busy seconds in a 2 s window at 3 GHz over 500 kpps.
    assert ovs["cycles_per_pkt"] == pytest.approx(4.0 / 2.0 * CLOCK_HZ / 500_000)
    assert ovs["cycles_per_pkt_switch"] == pytest.approx(2.0 / 2.0 * CLOCK_HZ / 500_000)
    assert ovs["cycles_per_pkt_applets"] == pytest.approx(1.5 / 2.0 * CLOCK_HZ / 500_000)
    assert ovs["cycles_per_pkt_softirq"] == pytest.approx(0.25 / 2.0 * CLOCK_HZ / 500_000)
    assert ovs["pmd_cycles_per_pkt"] == 250.0
    assert math.isnan(s.loc["linux-bridge", "cycles_per_pkt"])
    maxima = agg.maxima.set_index("vswitch")
    assert maxima.loc["ovs", "cycles_per_pkt"] == ovs["cycles_per_pkt"]


def test_figure_per_switch_and_size(tmp_path: Path) -> None:
    for vswitch, pkt, busy in (("ovs", 64, 4.0), ("ovs", 1500, 3.0),
                               ("linux-bridge", 64, 2.0)):  # fmt: skip
        folder = throughput_test(tmp_path, [500_000.0], vswitch=vswitch, pkt_size=pkt)
        add_cpu(folder, cpu_block(busy=busy, switch=2.0 if vswitch == "ovs" else None))
    result = build_all(analyse(tmp_path)[1])
    (plot,) = [f for f in result.figures if f.kind == "cycles_vs_pkt"]
    total, _, switch, _ = plot.figure.axes
    lines = {line.get_label(): list(line.get_ydata()) for line in total.get_lines()}
    per_second = CLOCK_HZ / 2.0 / 500_000
    assert lines["ovs"] == pytest.approx([4.0 * per_second, 3.0 * per_second])
    assert lines["linux-bridge"] == pytest.approx([2.0 * per_second])
    # linux-bridge has no switch process: not listed, and ovs keeps its colour.
    assert switch.get_legend_handles_labels()[1] == ["ovs"]
    colour = {line.get_label(): line.get_color() for line in total.get_lines()}
    (ovs_switch,) = [line for line in switch.get_lines() if line.get_label() == "ovs"]
    assert ovs_switch.get_color() == colour["ovs"]
    assert "cycles_vs_pkt" not in result.skipped


def test_report_shows_cycles_only_where_recorded(tmp_path: Path) -> None:
    results = tmp_path / "results"
    throughput_test(results, [500_000.0], vswitch="linux-bridge")
    out = tmp_path / "old"
    assert main([str(results), "--out", str(out), "--no-figures"]) == 0
    assert "cycles_per_pkt" not in (out / "report.html").read_text()
    add_cpu(next(results.iterdir()), cpu_block(switch=None))
    out = tmp_path / "new"
    assert main([str(results), "--out", str(out), "--no-figures"]) == 0
    html = (out / "report.html").read_text()
    assert "<th>cycles_per_pkt</th>" in html and "<th>cycles_per_pkt_softirq</th>" in html
    # A kernel switch has no process of its own: no empty switch column.
    assert "<th>cycles_per_pkt_switch</th>" not in html
    assert f"{4.0 / 2.0 * CLOCK_HZ / 500_000:.6g}" in html


def test_cpu_block_is_the_one_loaded_with_the_test(tmp_path: Path) -> None:
    # Aggregation takes the cpu block read with the test's seconds: a test.json rewritten
    # in between (a test rerun into the same folder) cannot mix two runs in one row.
    folder = throughput_test(tmp_path, [500_000.0], vswitch="ovs")
    add_cpu(folder, cpu_block(busy=4.0))
    dataset = load_results(tmp_path)
    add_cpu(folder, cpu_block(busy=1.0))
    row = aggregate(dataset, Window()).summary.iloc[0]
    assert row["cpu_busy_s"] == 4.0
    assert row["cycles_per_pkt"] == pytest.approx(4.0 / 2.0 * CLOCK_HZ / 500_000)
