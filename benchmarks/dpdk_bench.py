"""Receive rate of icperf's DPDK applets next to testpmd's own generator and sink.

Both cases go through the same switch, dpdk-testpmd in io forward mode between two
vhost-user ports, with the same rings, burst, frame size, memory and cores:

    A  icperf dpdk-send  -> testpmd io -> icperf dpdk-recv
    B  testpmd txonly    -> testpmd io -> testpmd rxonly

The switch forwards on CPU 1 alone; the two ends share CPU 0. With three busy pollers on two
CPUs that rate depends on how the scheduler slices CPU 0, so a second topology ("direct")
leaves the switch out: the sender's virtio-user port talks to a vhost port of the receiver,
each end on a CPU of its own, and per-packet cost decides. The rate is taken at the receiving
end (icperf's per-second records, testpmd's per-second Rx-pps) over the steady seconds: those
with traffic, less the first and the last. The machine is noisy and shared, so the cases
alternate over rounds (A B A B ...) and medians are compared. Memory is --no-huge by default
(the host's hugepage pool is left alone); --memory huge takes 2 MB pages on a private
hugetlbfs mount. Run as root:

    .venv/bin/python benchmarks/dpdk_bench.py [--seconds 8] [--rounds 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ICPERF = REPO / "native" / "build" / "icperf"
PREFIX = "icpx-bench"
RUNTIME = Path("/var/run/dpdk")
MAC_TX, MAC_RX = "02:69:63:70:78:1a", "02:69:63:70:78:1b"
IP_TX, IP_RX = "10.203.1.1", "10.203.1.2"
FLOOD_PPS = 100_000_000  # far above what one core sends: the sender never waits
SWITCH_LCORES = "0@1,1@1"  # testpmd: main + forwarding lcore, both on CPU 1
END_CPU = 0  # with the switch, both ends share CPU 0

Result = dict[str, Any]


class BenchError(Exception):
    pass


class Proc:
    """A process in its own session (stopped by its id), output in files of `logdir`."""

    live: list[Proc] = []  # noqa: RUF012 - every process started, so teardown stops them

    def __init__(self, logdir: Path, name: str, argv: list[str]) -> None:
        self.argv = argv
        self.out, self.err = logdir / f"{name}.out", logdir / f"{name}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=err,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        Proc.live.append(self)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def failure(self, what: str) -> BenchError:
        err = self.err.read_text(errors="replace")
        said = "\n".join(x for x in (err + self.text()).splitlines()
                         if re.search(r"(?i)fail|error|cannot|unable", x))
        return BenchError(f"{' '.join(self.argv)}: {what}:\n{said or err[-600:]}")

    def wait_for(self, pattern: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text()):
            if self.popen.poll() is not None:
                raise self.failure(f"exited with {self.popen.returncode}")
            if time.monotonic() > deadline:
                raise self.failure(f"no {pattern!r} within {timeout} s")
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> str:
        """SIGINT: testpmd and icperf both print their final statistics on it."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.text()


def stop_all() -> None:
    for proc in reversed(Proc.live):
        proc.stop(grace=3.0)
    Proc.live.clear()
    for entry in RUNTIME.glob(f"{PREFIX}*"):
        shutil.rmtree(entry, ignore_errors=True)


def testpmd(name: str, lcores: str, vdevs: list[str], mem: list[str], app: list[str]) -> list[str]:
    eal = ["dpdk-testpmd", "--lcores", lcores, "--no-pci", "--file-prefix", f"{PREFIX}-{name}",
           *mem]
    for vdev in vdevs:
        eal += ["--vdev", vdev]
    return [*eal, "--", "--auto-start", "--stats-period", "1", *app]


def steady_mean(rates: list[float]) -> float:
    """Mean of the per-second rates with traffic, less the first and last (partial) ones."""
    busy = [r for r in rates if r > 0]
    if len(busy) < 3:
        raise BenchError(f"fewer than 3 seconds with traffic: {rates}")
    return statistics.fmean(busy[1:-1])


def testpmd_rx_pps(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"Rx-pps:\s+(\d+)", text)]


def switch_drops(text: str) -> int:
    found = re.findall(r"(?:RX|TX)-dropped:\s*(\d+)", text.split("Accumulated forward")[-1])
    return sum(int(x) for x in found[:2])


@dataclass
class Wiring:
    """Where the two ends attach: their vdevs and CPUs, and the switch if there is one."""

    tx_vdev: str
    rx_vdev: str
    tx_cpu: int
    rx_cpu: int
    switch: Proc | None


class Bench:
    def __init__(self, args: argparse.Namespace, logdir: Path, mem: list[str]) -> None:
        self.a, self.logdir, self.mem, self.runs = args, logdir, mem, 0

    def _virtio(self, sock: Path) -> str:
        return f"net_virtio_user0,path={sock},queue_size={self.a.ring}"

    def _wire(self, topology: str) -> Wiring:
        self.runs += 1
        r, ring = self.runs, str(self.a.ring)
        if topology == "direct":  # the receiver's vhost port is the sender's peer
            sock = self.logdir / f"r{r}-direct.sock"
            return Wiring(self._virtio(sock), f"net_vhost0,iface={sock}", 0, 1, None)
        s0, s1 = self.logdir / f"r{r}-s0.sock", self.logdir / f"r{r}-s1.sock"
        sw = Proc(self.logdir, f"r{r}-switch", testpmd(
            f"sw{r}", SWITCH_LCORES, [f"net_vhost0,iface={s0}", f"net_vhost1,iface={s1}"],
            self.mem, ["--forward-mode=io", "--rxd", ring, "--txd", ring,
                       "--burst", str(self.a.burst), "--total-num-mbufs", str(self.a.mbufs)]))
        sw.wait_for("start packet forwarding")
        return Wiring(self._virtio(s0), self._virtio(s1), END_CPU, END_CPU, sw)

    def icperf_case(self, topology: str) -> Result:
        w = self._wire(topology)
        r, ring = self.runs, ["--ring", str(self.a.ring), "-b", str(self.a.burst),
                              "-p", str(self.a.size)]

        def eal(name: str, cpu: int, vdev: str) -> list[str]:
            return ["-l", str(cpu), "--no-pci", "--file-prefix", f"{PREFIX}-{name}{r}",
                    *self.mem, f"--vdev={vdev}"]

        recv = Proc(self.logdir, f"r{r}-icperf-recv", [
            str(ICPERF), "dpdk-recv", IP_RX, MAC_RX, IP_TX, MAC_TX, "--json", *ring, "--",
            *eal("rx", w.rx_cpu, w.rx_vdev)])
        recv.wait_for('"start"')
        time.sleep(0.5)
        send = Proc(self.logdir, f"r{r}-icperf-send", [
            str(ICPERF), "dpdk-send", IP_TX, MAC_TX, IP_RX, MAC_RX, "--json", *ring,
            "-r", str(FLOOD_PPS), "-t", str(self.a.seconds), "--",
            *eal("tx", w.tx_cpu, w.tx_vdev)])
        if send.popen.wait(self.a.seconds + 30) != 0:
            raise send.failure("failed")
        out = recv.stop()
        drops = switch_drops(w.switch.stop()) if w.switch else None
        rx = [json.loads(x) for x in out.splitlines() if '"second"' in x]
        sent = [json.loads(x) for x in send.text().splitlines() if '"summary"' in x]
        return {"rx_pps": steady_mean([float(x["rx"]) for x in rx]),
                "sent_pps": sent[0]["sent_pps"] if sent else None, "switch_drops": drops}

    def testpmd_case(self, topology: str) -> Result:
        w = self._wire(topology)
        r, ring = self.runs, str(self.a.ring)
        common = ["--rxd", ring, "--txd", ring, "--burst", str(self.a.burst),
                  "--total-num-mbufs", str(self.a.mbufs)]
        sink = Proc(self.logdir, f"r{r}-testpmd-rxonly", testpmd(
            f"rx{r}", f"0@{w.rx_cpu},1@{w.rx_cpu}", [w.rx_vdev], self.mem,
            ["--forward-mode=rxonly", *common]))
        sink.wait_for("start packet forwarding")
        time.sleep(0.5)
        gen = Proc(self.logdir, f"r{r}-testpmd-txonly", testpmd(
            f"tx{r}", f"0@{w.tx_cpu},1@{w.tx_cpu}", [w.tx_vdev], self.mem,
            ["--forward-mode=txonly", f"--txpkts={self.a.size}", *common]))
        gen.wait_for("start packet forwarding")
        time.sleep(self.a.seconds)
        gen.stop()
        time.sleep(1.5)  # the sink prints the second in which the traffic ended
        out = sink.stop()
        drops = switch_drops(w.switch.stop()) if w.switch else None
        rates = testpmd_rx_pps(out)
        if not rates:
            raise sink.failure("printed no statistics")
        return {"rx_pps": steady_mean(rates), "sent_pps": None, "switch_drops": drops}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> Result:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    dpdk = subprocess.run(["pkg-config", "--modversion", "libdpdk"], capture_output=True,
                          text=True, check=False).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": model.group(1) if model else "?",
            "kernel": platform.release(), "dpdk": dpdk or "?"}


HUGE = Path("/sys/kernel/mm/hugepages/hugepages-2048kB")


def hugepage_memory(logdir: Path, megabytes: int) -> tuple[list[str], Callable[[], None]]:
    """EAL memory arguments on a private hugetlbfs mount. Missing 2 MB pages are added to
    the pool and exactly that many are given back at the end (other users of the pool keep
    theirs)."""
    need = 3 * megabytes // 2 + 16  # switch + two ends
    free = int((HUGE / "free_hugepages").read_text())
    added = max(0, need - free)
    if added:
        total = int((HUGE / "nr_hugepages").read_text())
        (HUGE / "nr_hugepages").write_text(str(total + added))
        if int((HUGE / "free_hugepages").read_text()) < need:
            (HUGE / "nr_hugepages").write_text(str(total))
            raise BenchError(f"--memory huge needs {need} free 2 MB pages; the kernel "
                             "could not provide them")
    mount = logdir / "huge"
    mount.mkdir()
    subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", str(mount)],
                   check=True)

    def release() -> None:
        subprocess.run(["umount", str(mount)], check=False)
        if added:
            total = int((HUGE / "nr_hugepages").read_text())
            (HUGE / "nr_hugepages").write_text(str(max(0, total - added)))

    # --in-memory: no page files outlive a process and hold pages the next one needs
    return ["--huge-dir", str(mount), "--in-memory", "--single-file-segments", "-m",
            str(megabytes)], release


def report(result: Result, rounds: int) -> None:
    print(f"\nmachine: {result['machine']}\nload average before/after: "
          f"{result['load_before']} / {result['load_after']}")
    for topo, ratio in result["ratio"].items():
        print(f"\n{TOPOLOGIES[topo]}\n")
        print("| receiver | " + " | ".join(f"round {i + 1}" for i in range(rounds))
              + " | median |")
        print("|---" * (rounds + 2) + "|")
        for tool in ("icperf", "testpmd"):
            vals = [f"{r['rx_pps'] / 1e6:.3f}" for r in result["rounds"]
                    if r["case"] == tool and r["topology"] == topo]
            med = result["median_rx_pps"][f"{tool}/{topo}"]
            print(f"| {tool} | " + " | ".join(vals) + f" | **{med / 1e6:.3f}** Mpps |")
        print(f"\nicperf / testpmd ({topo}): {ratio:.3f}")


TOPOLOGIES = {
    "switch": "sender -> testpmd io (CPU 1) -> receiver; sender and receiver share CPU 0",
    "direct": "sender (virtio-user, CPU 0) -> receiver (vhost, CPU 1), no switch",
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--topology", choices=["switch", "direct", "both"], default="both")
    p.add_argument("--ring", type=int, default=16384)
    p.add_argument("--burst", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--mbufs", type=int, default=40000, help="testpmd --total-num-mbufs")
    p.add_argument("--memory", choices=["nohuge", "huge"], default="nohuge")
    p.add_argument("--megabytes", type=int, default=256, help="EAL memory per process")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="first wait up to SECONDS for a 1-minute load average below 1.0")
    p.add_argument("--json", type=Path, help="write the results here too")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("dpdk_bench: needs root (DPDK EAL, vhost-user)", file=sys.stderr)
        return 2
    if not ICPERF.exists() or not shutil.which("dpdk-testpmd"):
        print(f"dpdk_bench: needs {ICPERF} (make -C native) and dpdk-testpmd", file=sys.stderr)
        return 2
    topologies = list(TOPOLOGIES) if a.topology == "both" else [a.topology]
    deadline = time.monotonic() + a.wait_quiet
    while float(loadavg().split()[0]) >= 1.0 and time.monotonic() < deadline:
        time.sleep(10)
    logdir = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-"))
    cleanup: Callable[[], None] = stop_all  # --memory huge: unmount, give pages back
    result: Result = {"machine": machine(), "load_before": loadavg(), "args": vars(a) | {
        "json": str(a.json) if a.json else None}, "rounds": []}
    try:
        mem = ["--no-huge", "-m", str(a.megabytes)]
        if a.memory == "huge":
            mem, cleanup = hugepage_memory(logdir, a.megabytes)
        bench = Bench(a, logdir, mem)
        for n in range(a.rounds):  # A B A B ...: both tools see the same spells of noise
            for topo in topologies:
                for tool, case in (("icperf", bench.icperf_case),
                                   ("testpmd", bench.testpmd_case)):
                    got = case(topo)
                    stop_all()
                    got |= {"case": tool, "topology": topo, "round": n + 1, "load": loadavg()}
                    result["rounds"].append(got)
                    print(json.dumps(got), flush=True)
    except BenchError as exc:
        print(f"dpdk_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all()
        cleanup()
        shutil.rmtree(logdir, ignore_errors=True)
    result["load_after"] = loadavg()
    result["median_rx_pps"] = {
        f"{tool}/{topo}": statistics.median(
            r["rx_pps"] for r in result["rounds"] if r["case"] == tool and r["topology"] == topo)
        for topo in topologies for tool in ("icperf", "testpmd")}
    result["ratio"] = {topo: result["median_rx_pps"][f"icperf/{topo}"]
                       / result["median_rx_pps"][f"testpmd/{topo}"] for topo in topologies}
    report(result, a.rounds)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
