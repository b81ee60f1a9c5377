"""CPU time a test spends during its steady window, from /proc and the switch's PMD counters.

Two snapshots, one at each end of the window, of: every applet's and the switch process's
/proc/<pid>/stat (utime, stime: all threads of the process), /proc/stat (per core: user,
system, softirq, ...), /proc/cpuinfo (the clock) and, where the switch reports them, the
cycles of its poll-mode threads (``ovs-appctl dpif-netdev/pmd-stats-show``). The record is
the difference, in seconds (docs/results.md, ``cpu``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# /proc/stat's per-core columns, in order (proc(5)); guest time is already inside user.
CORE_FIELDS = (
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
)
IDLE_FIELDS = ("idle", "iowait")
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")
# pmd-stats-show lines kept per thread, under shorter names.
PMD_COUNTERS = {
    "packets received": "packets",
    "idle cycles": "idle_cycles",
    "processing cycles": "processing_cycles",
}
# lxc_test's `cpu` option (its DOCUMENTATION describes each).
CPU_OPTIONS: dict[str, dict[str, Any]] = {
    "warmup": {"type": "int", "default": 5},
    "cooldown": {"type": "int", "default": 5},
    "cores": {"type": "list", "elements": "int", "default": []},
    "switch_pid_file": {"type": "str", "default": ""},
    "switch_name": {"type": "str", "default": ""},
    "pmd_stats": {"type": "list", "elements": "str", "default": []},
    "proc_root": {"type": "path", "default": "/proc"},
}
_PMD_LINE = re.compile(r"^\s+([a-z][a-z .]*?):\s+(-?\d+)")


class SampleError(Exception):
    """A counter could not be read; the message says which."""


@dataclass(frozen=True)
class PidStat:
    comm: str
    ppid: int
    utime: int  # clock ticks
    stime: int


def parse_pid_stat(text: str) -> PidStat:
    """/proc/<pid>/stat: comm is between the first '(' and the LAST ')' (it may hold both)."""
    left, right = text.find("("), text.rfind(")")
    if left < 0 or right < left:
        raise SampleError(f"not a /proc/<pid>/stat line: {text[:60]!r}")
    fields = text[right + 1 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15 (proc(5)).
    try:
        return PidStat(text[left + 1 : right], int(fields[1]), int(fields[11]), int(fields[12]))
    except (IndexError, ValueError) as error:
        raise SampleError(f"not a /proc/<pid>/stat line: {text[:60]!r}") from error


def parse_proc_stat(text: str) -> dict[int, dict[str, int]]:
    """Clock ticks of every core (`cpuN` lines of /proc/stat), by core number."""
    cores: dict[int, dict[str, int]] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        values = [int(v) for v in rest.split()]
        padded = values + [0] * (len(CORE_FIELDS) - len(values))
        cores[int(name[3:])] = dict(zip(CORE_FIELDS, padded[: len(CORE_FIELDS)], strict=True))
    return cores


def parse_cpuinfo_mhz(text: str) -> dict[int, float]:
    """'cpu MHz' of every processor in /proc/cpuinfo (absent on some architectures)."""
    found: dict[int, float] = {}
    processor = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            processor = int(value)
        elif key == "cpu MHz" and processor is not None:
            found[processor] = float(value)
    return found


def parse_pmd_stats(text: str) -> dict[str, dict[str, int]]:
    """Counters of every thread in `ovs-appctl dpif-netdev/pmd-stats-show`.

    Threads are headed by an unindented line ending in ':' ('pmd thread numa_id 0 core_id
    1:', 'main thread:'); their counters follow, indented, as 'name: value'.
    """
    threads: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            current = threads.setdefault(line.rstrip()[:-1], {})
            continue
        match = _PMD_LINE.match(line)
        if match and current is not None and match.group(1) in PMD_COUNTERS:
            current[PMD_COUNTERS[match.group(1)]] = int(match.group(2))
    return threads


def pmd_delta(
    first: Mapping[str, Mapping[str, int]], second: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, Any]]:
    """Counters gained per PMD thread; a counter that went back (cleared) is unknown."""
    out: dict[str, dict[str, Any]] = {}
    for thread, after in second.items():
        before = first.get(thread, {})
        gained: dict[str, Any] = {}
        for name, value in after.items():
            diff = value - before[name] if name in before else None
            gained[name] = diff if diff is not None and diff >= 0 else None
        if gained.get("packets") and gained.get("processing_cycles") is not None:
            gained["processing_cycles_per_packet"] = round(
                gained["processing_cycles"] / gained["packets"], 2
            )
        out[thread] = gained
    return out


def steady_window(
    starts: Sequence[float], duration: float, warmup: float, cooldown: float
) -> tuple[float, float]:
    """Wall-clock ends of the window every sender keeps (seconds warmup..duration-cooldown).

    As in the analysis, a run no longer than warmup + cooldown keeps all its seconds: the
    window is then the whole run, less a quarter second at the end so that the senders are
    still there to be read.
    """
    if duration <= warmup + cooldown:
        warmup, cooldown = 0.0, min(0.25, duration / 4)
    return max(starts) + warmup, min(starts) + duration - cooldown


@dataclass
class Snapshot:
    at: float  # time.monotonic()
    wall: float  # time.time()
    pids: dict[int, PidStat | None]
    cores: dict[int, dict[str, int]]
    mhz: dict[int, float]
    pmd: dict[str, dict[str, int]] = field(default_factory=dict)


class ProcReader:
    """Reads the counters under one /proc root (a fake tree in the tests)."""

    def __init__(
        self,
        proc_root: str = "/proc",
        run_command: Callable[[list[str]], tuple[int, str, str]] | None = None,
    ) -> None:
        self.root = proc_root
        self.run_command = run_command
        self.tick_hz = os.sysconf("SC_CLK_TCK")

    def read(self, *parts: str) -> str:
        with open(os.path.join(self.root, *parts), encoding="utf-8") as handle:
            return handle.read()

    def pid_stat(self, pid: int) -> PidStat | None:
        """None when the process is gone."""
        try:
            return parse_pid_stat(self.read(str(pid), "stat"))
        except FileNotFoundError:
            return None

    def children(self, pid: int) -> list[tuple[int, str]]:
        """(pid, comm) of the processes whose parent is `pid`."""
        found = []
        for name in os.listdir(self.root):
            if not name.isdigit():
                continue
            try:
                stat = parse_pid_stat(self.read(name, "stat"))
            except (OSError, SampleError):
                continue
            if stat.ppid == pid:
                found.append((int(name), stat.comm))
        return sorted(found)

    def pmd_stats(self, argv: Sequence[str]) -> dict[str, dict[str, int]]:
        if not argv or self.run_command is None:
            return {}
        rc, out, err = self.run_command(list(argv))
        if rc != 0:
            raise SampleError(f"{' '.join(argv)}: {err.strip() or rc}")
        return parse_pmd_stats(out)

    def snapshot(self, pids: Sequence[int], pmd_argv: Sequence[str] = ()) -> Snapshot:
        at, wall = time.monotonic(), time.time()
        return Snapshot(
            at=at, wall=wall, pids={pid: self.pid_stat(pid) for pid in pids},
            cores=parse_proc_stat(self.read("stat")),
            mhz=parse_cpuinfo_mhz(self.read("cpuinfo")), pmd=self.pmd_stats(pmd_argv),
        )  # fmt: skip


def cpu_record(
    first: Snapshot,
    second: Snapshot,
    processes: Sequence[Mapping[str, Any]],
    cores: Sequence[int],
    tick_hz: int,
    window: Mapping[str, Any],
) -> dict[str, Any]:
    """The test.json `cpu` block: what each process and each core spent between the snapshots.

    processes: {role, name, pid} each. cores: the cores the test's applets and switch use
    (their softirq, system and busy times are summed).
    """

    def seconds(ticks: int) -> float:
        return round(ticks / tick_hz, 3)

    listed = []
    for proc in processes:
        before, after = first.pids.get(proc["pid"]), second.pids.get(proc["pid"])
        entry: dict[str, Any] = {
            "role": proc["role"],
            "name": proc["name"],
            "pid": proc["pid"],
            "comm": (after or before).comm if (after or before) else None,
        }
        if before is None or after is None:
            entry |= {
                "utime_s": None,
                "stime_s": None,
                "note": "process not found at the "
                + ("start" if before is None else "end")
                + " of the window",
            }
        elif after.comm != before.comm or after.utime < before.utime or after.stime < before.stime:
            # The process ended and its pid went to another one in between.
            entry |= {"utime_s": None, "stime_s": None, "note": "pid reused in the window"}
        else:
            entry |= {
                "utime_s": seconds(after.utime - before.utime),
                "stime_s": seconds(after.stime - before.stime),
            }
        listed.append(entry)
    per_core = {}
    for core in sorted(second.cores):
        if core not in first.cores:
            continue
        diff = {f: second.cores[core][f] - first.cores[core][f] for f in CORE_FIELDS}
        per_core[str(core)] = {f"{f}_s": seconds(diff[f]) for f in (*BUSY_FIELDS, *IDLE_FIELDS)}
        per_core[str(core)]["busy_s"] = seconds(sum(diff[f] for f in BUSY_FIELDS))
    used = [str(c) for c in cores if str(c) in per_core]
    mhz = [second.mhz[c] for c in cores if c in second.mhz] or list(second.mhz.values())

    def total(name: str) -> float:
        return round(sum(per_core[c][name] for c in used), 3)

    return {
        "window": dict(window),
        "window_s": round(second.at - first.at, 3),
        "start": round(first.wall, 3),
        "end": round(second.wall, 3),
        "clock_hz": round(sum(mhz) / len(mhz) * 1e6) if mhz else None,
        "clock": "cpuinfo",
        "tick_hz": tick_hz,
        "cores_used": [int(c) for c in used],
        "processes": listed,
        "softirq_s": total("softirq_s"),
        "system_s": total("system_s"),
        "busy_s": total("busy_s"),
        "cores": per_core,
        "pmd": pmd_delta(first.pmd, second.pmd) if second.pmd else None,
    }


def pid_from_file(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError) as error:
        raise SampleError(f"switch pid file {path}: {error}") from error


def applet_pid(reader: ProcReader, init_pid: int, name: str, program: str) -> int:
    """The applet under a container's init (icperf-run starts it as its only lasting child)."""
    children = reader.children(init_pid)
    program = os.path.basename(program)
    named = [pid for pid, comm in children if comm == program[:15]]
    if len(named) == 1:
        return named[0]
    if len(children) == 1:
        return children[0][0]
    raise SampleError(
        f"{name}: {len(children)} processes under its init {init_pid}, "
        f"{len(named)} named {program[:15]!r}"
    )


@dataclass
class WindowPlan:
    """What to sample: the test's duration, the window's trim, the cores, the switch."""

    duration: float
    warmup: float
    cooldown: float
    cores: list[int]
    switch_pid_file: str = ""
    switch_name: str = ""
    pmd_stats: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, options: Mapping[str, Any], duration: float) -> WindowPlan:
        """From lxc_test's `cpu` option (CPU_OPTIONS)."""
        return cls(
            duration=duration,
            warmup=options["warmup"],
            cooldown=options["cooldown"],
            cores=list(options["cores"]),
            switch_pid_file=options["switch_pid_file"],
            switch_name=options["switch_name"],
            pmd_stats=list(options["pmd_stats"]),
        )


def sample_window(
    reader: ProcReader,
    plan: WindowPlan,
    starts: Sequence[float],
    applets: Sequence[Mapping[str, Any]],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Snapshots at both ends of the senders' steady window, as a test.json `cpu` block.

    starts: wall-clock start of every sender (their start records' ts). applets: {role,
    name, init, program}: the container's init pid and the applet's argv[0]. Sleeps until
    each end of the window.
    """
    processes = [{"role": a["role"], "name": a["name"],
                  "pid": applet_pid(reader, a["init"], a["name"], a["program"])}
                 for a in applets]  # fmt: skip
    if plan.switch_pid_file:
        pid = pid_from_file(plan.switch_pid_file)
        processes.append({"role": "switch", "name": plan.switch_name or str(pid), "pid": pid})
    begin, end = steady_window(starts, plan.duration, plan.warmup, plan.cooldown)
    pids = [p["pid"] for p in processes]
    sleep(max(0.0, begin - time.time()))
    first = reader.snapshot(pids, plan.pmd_stats)
    sleep(max(0.0, end - time.time()))
    second = reader.snapshot(pids, plan.pmd_stats)
    window = {
        "from_s": round(begin - min(starts), 3),
        "to_s": round(end - min(starts), 3),
        "of": "senders' run",
    }
    return cpu_record(first, second, processes, plan.cores, reader.tick_hz, window)
