"""CPU time of a test's steady window: /proc parsing, deltas and sampling on a fake proc root."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.cpusample import (
    CPU_OPTIONS,
    ProcReader,
    SampleError,
    Snapshot,
    WindowPlan,
    applet_pid,
    cpu_record,
    parse_cpuinfo_mhz,
    parse_pid_stat,
    parse_pmd_stats,
    parse_proc_stat,
    pmd_delta,
    sample_window,
    steady_window,
)
from ansible_collections.icperf.lab.plugins.modules.lxc_test import ContainerSet

# A comm may hold spaces and parentheses: only the last ')' ends it.
STAT_TRICKY = (
    "4242 (we (i) rd) name) S 4200 4242 4242 0 -1 4194560 120 0 0 0 "
    "1234 567 0 0 20 0 3 0 9876 12345678 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 "
    "1 0 0 0 0 0\n"
)
PROC_STAT = """cpu  1681564 0 399633 740934 7469 0 30430 68970 5 0
cpu0 814059 0 191407 401843 2992 0 22912 33958 3 0
cpu1 867504 0 208225 339091 4477 0 7518 35012 2 0
intr 123 0 0
ctxt 456
"""
CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu MHz\t\t: 2596.142
flags\t\t: fpu

processor\t: 1
cpu MHz\t\t: 2600.000
"""
# Shaped as ovs-appctl dpif-netdev/pmd-stats-show of OVS 3.1 prints it.
PMD_TEXT = """pmd thread numa_id 0 core_id 1:
  packets received: 1000
  packet recirculations: 0
  avg. datapath passes per packet: 1.00
  emc hits: 990
  megaflow hits: 9
  miss with success upcall: 1
  idle cycles: 9000000 (90.00%)
  processing cycles: 1000000 (10.00%)
  avg cycles per packet: 10000.00 (10000000/1000)
  avg processing cycles per packet: 1000.00 (1000000/1000)
main thread:
  packets received: 0
  packet recirculations: 0
  avg. datapath passes per packet: 0.00
  emc hits: 0
"""


def pid_stat(pid: int, comm: str, ppid: int, utime: int, stime: int) -> str:
    return (f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 120 0 0 0 {utime} {stime} "
            "0 0 20 0 1 0 100 1000 10 0 0 0\n")  # fmt: skip


def test_pid_stat_comm_with_spaces_and_parentheses() -> None:
    stat = parse_pid_stat(STAT_TRICKY)
    assert (stat.comm, stat.ppid, stat.utime, stat.stime) == ("we (i) rd) name", 4200, 1234, 567)
    with pytest.raises(SampleError, match="not a /proc/<pid>/stat line"):
        parse_pid_stat("4242 no comm here")
    with pytest.raises(SampleError):
        parse_pid_stat("4242 (short) S 1 2")


def test_proc_stat_cores_and_short_lines() -> None:
    cores = parse_proc_stat(PROC_STAT + "cpu7 1 2 3 4\n")
    assert sorted(cores) == [0, 1, 7]
    assert cores[1]["softirq"] == 7518 and cores[1]["system"] == 208225
    assert cores[1]["steal"] == 35012 and cores[1]["guest"] == 2
    # Older kernels print fewer columns: the missing ones read as 0.
    assert cores[7] == {**dict.fromkeys(cores[7], 0), "user": 1, "nice": 2, "system": 3,
                        "idle": 4}  # fmt: skip


def test_cpuinfo_mhz_per_processor() -> None:
    assert parse_cpuinfo_mhz(CPUINFO) == {0: 2596.142, 1: 2600.0}
    assert parse_cpuinfo_mhz("processor : 0\nBogoMIPS : 50\n") == {}


def test_pmd_stats_threads_and_counters() -> None:
    threads = parse_pmd_stats(PMD_TEXT)
    assert threads == {
        "pmd thread numa_id 0 core_id 1": {"packets": 1000, "idle_cycles": 9000000,
                                           "processing_cycles": 1000000},
        "main thread": {"packets": 0},
    }  # fmt: skip


def test_pmd_delta_per_thread_and_a_cleared_counter() -> None:
    before = parse_pmd_stats(PMD_TEXT)
    after = parse_pmd_stats(
        PMD_TEXT.replace("received: 1000", "received: 3000")
        .replace("processing cycles: 1000000", "processing cycles: 1400000")
        .replace("idle cycles: 9000000", "idle cycles: 5")
    )
    delta = pmd_delta(before, after)
    pmd = delta["pmd thread numa_id 0 core_id 1"]
    assert pmd["packets"] == 2000 and pmd["processing_cycles"] == 400000
    assert pmd["processing_cycles_per_packet"] == 200.0
    assert pmd["idle_cycles"] is None  # went back: cleared in between, unknown
    assert "processing_cycles_per_packet" not in delta["main thread"]


def test_steady_window_is_the_senders_kept_seconds() -> None:
    # Two senders started 0.3 s apart: the window every one of them keeps.
    assert steady_window([100.0, 100.3], 60, 5, 5) == (105.3, 155.0)
    # A run too short to trim keeps all its seconds, as the analysis does.
    begin, end = steady_window([100.0], 8, 5, 5)
    assert begin == 100.0 and end == pytest.approx(107.75)


def snapshot(at: float, pids: dict[int, tuple[int, int] | None], softirq: int,
             pmd: dict[str, dict[str, int]] | None = None) -> Snapshot:  # fmt: skip
    cores = parse_proc_stat(PROC_STAT)
    cores[1] = {**cores[1], "softirq": cores[1]["softirq"] + softirq,
                "system": cores[1]["system"] + 2 * softirq}  # fmt: skip
    stats = {pid: None if t is None else parse_pid_stat(pid_stat(pid, "icperf", 1, *t))
             for pid, t in pids.items()}  # fmt: skip
    return Snapshot(at=at, wall=1000.0 + at, pids=stats, cores=cores,
                    mhz={0: 2000.0, 1: 3000.0}, pmd=pmd or {})  # fmt: skip


def test_cpu_record_deltas_in_seconds() -> None:
    first = snapshot(0.0, {10: (100, 50), 20: (7, 7), 30: (1, 1)}, 0)
    second = snapshot(2.0, {10: (250, 60), 20: (7, 9), 30: None}, 30)
    procs = [{"role": "send", "name": "s.send", "pid": 10},
             {"role": "recv", "name": "r.recv", "pid": 20},
             {"role": "switch", "name": "testpmd", "pid": 30}]  # fmt: skip
    record = cpu_record(first, second, procs, [1], 100, {"from_s": 5, "to_s": 7})
    assert record["window_s"] == 2.0
    assert record["processes"][0] == {"role": "send", "name": "s.send", "pid": 10,
                                      "comm": "icperf", "utime_s": 1.5, "stime_s": 0.1}
    assert record["processes"][1]["utime_s"] == 0.0 and record["processes"][1]["stime_s"] == 0.02
    assert record["processes"][2]["utime_s"] is None
    assert "end of the window" in record["processes"][2]["note"]
    reused = snapshot(2.0, {10: (5, 5), 20: (7, 9), 30: (1, 1)}, 30)
    record_reused = cpu_record(first, reused, procs, [1], 100, {})
    assert record_reused["processes"][0]["note"] == "pid reused in the window"
    assert record_reused["processes"][0]["utime_s"] is None
    assert record["softirq_s"] == 0.3 and record["system_s"] == 0.6
    assert record["busy_s"] == 0.9 and record["cores_used"] == [1]
    assert record["cores"]["0"]["busy_s"] == 0.0
    assert record["clock_hz"] == 3_000_000_000 and record["clock"] == "cpuinfo"
    assert record["pmd"] is None


class FakeProc:
    """A proc tree on disk: /proc/stat, /proc/cpuinfo, /proc/<pid>/stat."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ticks: dict[int, tuple[str, int, int, int]] = {}
        self.softirq = 0

    def process(self, pid: int, comm: str, ppid: int, utime: int = 0, stime: int = 0) -> None:
        self.ticks[pid] = (comm, ppid, utime, stime)

    def write(self) -> None:
        self.root.mkdir(exist_ok=True)
        (self.root / "stat").write_text(
            PROC_STAT.replace(" 7518 ", f" {7518 + self.softirq} "), encoding="utf-8")
        (self.root / "cpuinfo").write_text(CPUINFO, encoding="utf-8")
        (self.root / "self").mkdir(exist_ok=True)  # not a pid: skipped
        for pid, (comm, ppid, utime, stime) in self.ticks.items():
            (self.root / str(pid)).mkdir(exist_ok=True)
            (self.root / str(pid) / "stat").write_text(pid_stat(pid, comm, ppid, utime, stime))


def test_applet_pid_is_the_named_child_of_the_init(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.process(100, "icperf-run", 1)
    proc.process(101, "icperf", 100)
    proc.process(102, "ping", 100)
    proc.process(200, "icperf-run", 1)
    proc.process(201, "sh", 200)
    proc.process(202, "sleep", 200)
    proc.write()
    reader = ProcReader(str(proc.root))
    assert applet_pid(reader, 100, "s.send", "/usr/local/bin/icperf") == 101
    with pytest.raises(SampleError, match=r"r\.recv: 2 processes under its init 200"):
        applet_pid(reader, 200, "r.recv", "/usr/local/bin/icperf")


def test_sample_window_reads_both_ends(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    for init, pid in ((100, 101), (200, 201)):
        proc.process(init, "icperf-run", 1)
        proc.process(pid, "icperf", init, 10, 10)
    proc.process(300, "dpdk-testpmd", 1, 500, 5)
    proc.write()
    pid_file = tmp_path / "testpmd.pid"
    pid_file.write_text("300\n")
    pmd_calls: list[list[str]] = []
    pmd_texts = [PMD_TEXT, PMD_TEXT.replace("received: 1000", "received: 5000")
                 .replace("processing cycles: 1000000", "processing cycles: 2000000")]

    def run_command(argv: list[str]) -> tuple[int, str, str]:
        pmd_calls.append(argv)
        return 0, pmd_texts[len(pmd_calls) - 1], ""

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:  # between the snapshots: the window's work
            proc.process(101, "icperf", 100, 10 + 150, 10 + 50)
            proc.process(201, "icperf", 200, 10 + 90, 10 + 100)
            proc.process(300, "dpdk-testpmd", 1, 500 + 200, 5)
            proc.softirq = 40
            proc.write()

    now = time.time()
    plan = WindowPlan(duration=60, warmup=5, cooldown=5, cores=[1], switch_name="testpmd",
                      switch_pid_file=str(pid_file), pmd_stats=["pmd-stats"])  # fmt: skip
    applets = [{"role": "send", "name": "s.send", "init": 100, "program": "icperf"},
               {"role": "dpdk-recv", "name": "r.recv", "init": 200, "program": "icperf"}]
    reader = ProcReader(str(proc.root), run_command)
    record = sample_window(reader, plan, [now - 5.0, now - 4.0], applets, sleep=sleep)
    # The window opens 5 s after the later sender started (1 s from now) and closes 5 s
    # before the earlier one ends (50 s from now; the fake sleep does not pass time).
    assert sleeps[0] == pytest.approx(1.0, abs=0.5)
    assert sleeps[1] == pytest.approx(50.0, abs=0.5)
    assert record["window"] == {"from_s": 6.0, "to_s": 55.0, "of": "senders' run"}
    by_name = {p["name"]: p for p in record["processes"]}
    assert by_name["s.send"]["pid"] == 101 and by_name["s.send"]["utime_s"] == 1.5
    assert by_name["r.recv"]["role"] == "dpdk-recv" and by_name["r.recv"]["stime_s"] == 1.0
    assert by_name["testpmd"] == {"role": "switch", "name": "testpmd", "pid": 300,
                                  "comm": "dpdk-testpmd", "utime_s": 2.0, "stime_s": 0.0}
    assert record["softirq_s"] == 0.4
    pmd = record["pmd"]["pmd thread numa_id 0 core_id 1"]
    assert pmd["packets"] == 4000 and pmd["processing_cycles_per_packet"] == 250.0
    assert pmd_calls == [["pmd-stats"], ["pmd-stats"]]
    json.dumps(record)  # goes into test.json as it is


def test_sample_window_names_a_missing_switch_pid_file(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.write()
    plan = WindowPlan(duration=10, warmup=5, cooldown=5, cores=[1],
                      switch_pid_file=str(tmp_path / "gone.pid"))  # fmt: skip
    with pytest.raises(SampleError, match=r"switch pid file .*gone\.pid"):
        sample_window(ProcReader(str(proc.root)), plan, [time.time()], [], sleep=lambda s: None)


def test_lxc_test_returns_the_cpu_block_or_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.process(100, "icperf-run", 1)
    proc.process(101, "icperf", 100, 3, 4)
    proc.write()
    containers = [{"name": "s", "app": "send", "active": True, "argv": ["/x/icperf", "send"]}]
    options = {**{k: v["default"] for k, v in CPU_OPTIONS.items()},
               "cores": [1], "proc_root": str(proc.root)}  # fmt: skip
    params: dict[str, Any] = {"containers": containers, "duration": 1, "cpu": options,
                              "lxcpath": "/var/lib/lxc"}

    class Module:
        def __init__(self) -> None:
            self.params = params

        def run_command(self, argv: list[str]) -> tuple[int, str, str]:
            assert argv[:4] == ["lxc-info", "-n", "s", "-pH"]
            return 0, "100\n", ""

    test = ContainerSet(Module())
    monkeypatch.setattr(test, "wait_started", lambda c: {"type": "start", "ts": time.time()})
    record = test.cpu_window()
    assert record["processes"] == [{"role": "send", "name": "s.send", "pid": 101,
                                    "comm": "icperf", "utime_s": 0.0, "stime_s": 0.0}]
    assert record["window_s"] < 1.0  # a 1 s run keeps all of itself
    monkeypatch.setattr(test, "wait_started", lambda c: {"type": "start"})
    no_ts = {"error": "no sender or client on this host, or no ts in its start record"}
    assert test.cpu_window() == no_ts
    containers[0]["active"] = False  # a host with receivers only
    assert test.cpu_window() == no_ts
