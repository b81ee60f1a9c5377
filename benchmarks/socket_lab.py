"""The lab of socket_bench.py: the topology of the native tests, processes inside it, host facts.

Two network namespaces (icpb-a, icpb-b), each holding one end of a veth pair whose other end is
a port of a linux bridge in a third namespace (icpb-br). Processes run in their own process
group so that teardown stops exactly the processes it started.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NS_A, NS_B, NS_BR = "icpb-a", "icpb-b", "icpb-br"
IF_A, IF_B, BRIDGE = "icpb-a0", "icpb-b0", "icpb-br0"
IP_A, IP_B = "10.201.0.1", "10.201.0.2"
MAC_A, MAC_B = "02:69:63:70:62:0a", "02:69:63:70:62:0b"


class BenchError(Exception):
    pass


def sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


class Proc:
    """A process started in a namespace, in its own process group so it is stopped by id."""

    live: list[Proc] = []  # noqa: RUF012 - every process started, so teardown can stop them

    def __init__(self, logdir: Path, ns: str, argv: list[str], cpu: int | None = None) -> None:
        self.name = f"{argv[0].rsplit('/', 1)[-1]}-{len(Proc.live)}"
        self.out_path, self.err_path = logdir / f"{self.name}.out", logdir / f"{self.name}.err"
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self.argv = ["ip", "netns", "exec", ns, *pin, *argv]
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.popen = subprocess.Popen(self.argv, stdout=out, stderr=err,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        Proc.live.append(self)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def failure(self, what: str) -> BenchError:
        err = self.err_path.read_text(errors="replace").strip()[-600:]
        return BenchError(f"{' '.join(self.argv)}: {what}: {err}")

    def wait_output(self, pattern: str, timeout: float = 5.0) -> float:
        """Wait until standard output matches `pattern`; returns the time it was seen."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.output()):
            if self.popen.poll() is not None:
                raise self.failure(f"exited with {self.popen.returncode} before printing")
            if time.monotonic() > deadline:
                raise self.failure(f"printed no {pattern!r} within {timeout} s")
            time.sleep(0.02)
        return time.monotonic()

    def finish(self, timeout: float) -> str:
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise self.failure(f"still running after {timeout:.0f} s") from None
        if rc != 0:
            raise self.failure(f"exit status {rc}")
        return self.output()

    def stop(self, grace: float = 5.0) -> str:
        """SIGINT (every tool here prints its summary on it), SIGKILL if it does not exit."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        return self.output()


def stop_all() -> None:
    for proc in Proc.live:
        proc.stop(grace=2.0)
    Proc.live.clear()


def destroy_topology() -> None:
    for ns in (NS_A, NS_B, NS_BR):
        if Path("/run/netns", ns).exists():
            subprocess.run(["ip", "netns", "del", ns], check=False)


def create_topology() -> None:
    destroy_topology()
    for ns in (NS_A, NS_B, NS_BR):
        sh("ip", "netns", "add", ns)
        # IPv6 router/neighbour chatter would add to the interface counters
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # br_netfilter is built into this kernel and defaults to 1, which drops raw-injected frames
    sh("ip", "netns", "exec", NS_BR, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0",
       "net.bridge.bridge-nf-call-ip6tables=0", "net.bridge.bridge-nf-call-arptables=0")
    sh("ip", "-n", NS_BR, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0")
    ends = ((NS_A, IF_A, MAC_A, IP_A, IP_B, MAC_B), (NS_B, IF_B, MAC_B, IP_B, IP_A, MAC_A))
    for ns, ifname, mac, ip, peer_ip, peer_mac in ends:
        port = ifname[:-1] + "1"
        sh("ip", "-n", NS_BR, "link", "add", port, "type", "veth", "peer", "name", ifname,
           "netns", ns)
        sh("ip", "-n", ns, "link", "set", ifname, "address", mac, "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", ifname)
        # a permanent neighbour entry: no ARP exchange delays or splits the first second
        sh("ip", "-n", ns, "neigh", "replace", peer_ip, "lladdr", peer_mac, "dev", ifname,
           "nud", "permanent")
        sh("ip", "-n", NS_BR, "link", "set", port, "master", BRIDGE, "up")
        # a one-way flow never teaches the bridge where its destination is and would be
        # flooded, while a tool with a reverse channel (iperf3's TCP control) gets forwarded
        sh("bridge", "-n", NS_BR, "fdb", "replace", mac, "dev", port, "master", "static")
    sh("ip", "-n", NS_BR, "link", "set", BRIDGE, "up")


@contextmanager
def topology() -> Iterator[None]:
    create_topology()
    try:
        yield
    finally:
        stop_all()
        destroy_topology()


def veth_rx() -> tuple[float, int]:
    before = time.monotonic()
    out = sh("ip", "-n", NS_B, "-s", "-j", "link", "show", "dev", IF_B)
    return (before + time.monotonic()) / 2, int(json.loads(out)[0]["stats64"]["rx"]["packets"])


def cpu_seconds(pid: int) -> float:
    """User + system time of a process and its live descendants (trafgen sends from a child
    process); tick-sampled, so softirq work that runs in their context, such as the bridge
    and the receiving veth behind a sender's syscall, is included."""
    total, todo = 0, [pid]
    while todo:
        proc = Path("/proc", str(todo.pop()))
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            for task in (proc / "task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # it exited meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def veth_window(start: float, seconds: int, on_window: Callable[[float], None] | None = None,
                sender: int | None = None) -> tuple[float, float | None]:
    """Receive rate at the receiver's veth over [start + 1, start + seconds - 1]: the same
    counter for every tool, so also a cross-check of what each tool reports; and the share
    of a CPU the process `sender` got in that window (None without one): on a machine
    shared with other work, rate / share is what the sender makes of the CPU it got.
    `on_window` is called with the window's length as it opens (to profile exactly the
    counted seconds)."""
    time.sleep(max(0.0, start + 1.0 - time.monotonic()))
    t0, n0 = veth_rx()
    c0 = cpu_seconds(sender) if sender else 0.0
    if on_window:
        on_window(start + seconds - 1.0 - t0)
    time.sleep(max(0.0, start + seconds - 1.0 - time.monotonic()))
    t1, n1 = veth_rx()
    share = (cpu_seconds(sender) - c0) / (t1 - t0) if sender else None
    return (n1 - n0) / (t1 - t0), share


def veth_rx_pps(start: float, seconds: int,
                on_window: Callable[[float], None] | None = None) -> float:
    """veth_window's rate alone."""
    return veth_window(start, seconds, on_window)[0]


def version(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except OSError as exc:
        return f"unavailable ({exc.strerror})"
    return ((done.stdout + done.stderr).strip().splitlines() or ["?"])[0]


def machine(icperf: str, copy: str) -> dict[str, Any]:
    """Host facts; `copy` is the binary actually run, `icperf` where it came from."""
    digest = hashlib.sha256(Path(copy).read_bytes()).hexdigest()[:16]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    return {"nproc": os.cpu_count(), "cpu": model.group(1) if model else "?",
            "kernel": platform.release(), "icperf": f"{icperf} (sha256 {digest})",
            "iperf3": version("iperf3", "--version"), "sockperf": version("sockperf", "--version"),
            "trafgen": version("trafgen", "-v")}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_quiet(limit: float, timeout: float) -> None:
    """Waits up to `timeout` s for a 1-minute load average at most `limit`."""
    deadline = time.monotonic() + timeout
    if timeout > 0 and float(loadavg().split()[0]) > limit:
        print(f"waiting up to {timeout:.0f} s for a load average <= {limit} ({loadavg()})",
              flush=True)
    while float(loadavg().split()[0]) > limit and time.monotonic() < deadline:
        time.sleep(10)
