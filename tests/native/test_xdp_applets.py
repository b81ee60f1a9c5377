"""The AF_XDP transport (-X) through a linux bridge between two namespaces: delivery and
sequence accounting, the address filter, pacing, round trips, and what stays attached to
the interface when an applet ends, however it ends."""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from icperf_netns import Topology
from icperf_run import NATIVE, PROBE, Applet, endpoints, probe, run
from icperf_xdp import XDP_ATTACHED_DRV, require_xdp, topology, xdp_state

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def xdp_icperf(icperf: Path) -> Path:
    return require_xdp(icperf)


@pytest.fixture(scope="module")
def xdp_topo(xdp_icperf: Path) -> Iterator[Topology]:
    with topology() as topo:
        yield topo


RATE = 20000
SECONDS = 2
BURST = 32
# sender flags, receiver flags: every pair of transports that share the frame layout
PAIRS = {
    "xdp": (["-X", "eth0"], ["-X", "eth0"]),
    "xdp-blocking": (["-X", "eth0", "-B"], ["-X", "eth0", "-B"]),
    "raw-to-xdp": (["-R", "eth0"], ["-X", "eth0"]),
    "xdp-to-raw": (["-X", "eth0"], ["-R", "eth0"]),
    "xdp-to-udp": (["-X", "eth0"], []),
}


def two_cpus() -> tuple[list[str], list[str]]:
    """Sender and receiver on different CPUs, so the two busy loops never share one."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return [], []
    return ["--cpu", str(cpus[0])], ["--cpu", str(cpus[1])]


def send_recv(
    topo: Topology, send_flags: list[str], recv_flags: list[str], binary: Path | None = None
) -> tuple[dict, dict, dict, dict]:
    """send -> recv; start and summary records of both."""
    send_cpu, recv_cpu = two_cpus()
    recv_argv = ["recv", *endpoints(topo.b, topo.a), "--json", *recv_cpu, *recv_flags]
    recv = Applet(topo.b.ns, recv_argv, binary) if binary else Applet(topo.b.ns, recv_argv)
    try:
        recv.wait_started()
        sent = run(
            topo.a.ns,
            ["send", *endpoints(topo.a, topo.b), "--json", "-r", str(RATE), "-b", str(BURST),
             "-t", str(SECONDS), *send_cpu, *send_flags],
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        recv.wait_received(sent.summary()["sent"])
        recv.send_signal(signal.SIGTERM)
        got = recv.finish()
    finally:
        recv.kill()
    assert got.returncode == 0, got.stderr
    return sent.of_type("start")[0], sent.summary(), got.of_type("start")[0], got.summary()


def check_xdp_start(start: dict, iface: str = "eth0") -> None:
    assert start["transport"] == "xdp" and start["iface"] == iface, start
    # veth has had a native XDP hook since Linux 4.19, and no zero-copy mode.
    assert start["xdp_mode"] == "native" and start["xdp_zerocopy"] is False, start
    assert start["mmsg"] is False, "a burst is one kick anyway: -m is not recorded"


@pytest.mark.parametrize("pair", list(PAIRS))
def test_every_packet_is_delivered_and_accounted(xdp_topo: Topology, pair: str) -> None:
    send_flags, recv_flags = PAIRS[pair]
    s_start, s, r_start, r = send_recv(xdp_topo, send_flags, recv_flags)
    for start, flags in ((s_start, send_flags), (r_start, recv_flags)):
        if "-X" in flags:
            check_xdp_start(start)
            assert start["blocking"] == ("-B" in flags)
        else:
            assert "xdp_mode" not in start, "the AF_XDP fields belong to -X runs only"
    assert s_start["tx_stamp"] == "per-burst"
    assert s["reason"] == "duration" and s["seconds"] == SECONDS
    assert abs(s["offered_pps"] - RATE) <= 0.01 * RATE, s
    assert s["dropped"] == 0 and s["sent"] == s["attempted"] == RATE * SECONDS, s
    assert (r["rx"], r["lost"], r["reordered"], r["duplicated"]) == (s["sent"], 0, 0, 0), r


def test_static_binary_carries_the_transport(xdp_topo: Topology) -> None:
    """The containers run build/icperf-static: it must have -X too."""
    done = subprocess.run(["make", "-C", str(NATIVE), "static"], capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    flags = ["-X", "eth0"]
    _, s, r_start, r = send_recv(xdp_topo, flags, flags, NATIVE / "build" / "icperf-static")
    check_xdp_start(r_start)
    assert r["rx"] == s["sent"] == RATE * SECONDS and r["lost"] == 0, (s, r)


def test_recv_ignores_frames_not_addressed_to_it(xdp_topo: Topology) -> None:
    """The program steers the test's flow (IPv4/UDP to LOCAL_IP:port); the applet then
    checks MAC and magic as the raw transport does. Frames of other flows go on to the
    kernel: a UDP socket on another port still gets its datagram."""
    topo = xdp_topo
    frames = [
        {"seq": 0},
        {"seq": 1, "dst_mac": "02:77:00:00:00:99"},  # flooded by the bridge, not ours
        {"seq": 1, "dst_ip": "10.77.0.99"},
        {"seq": 7, "port": 9001},
        {"seq": 1, "magic": 0x12345678},
        {"seq": 1},
        {"seq": 2},
    ]
    inject = ["raw-inject", "--iface", topo.a.iface, "--src-mac", topo.a.mac, "--dst-mac",
              topo.b.mac, "--src-ip", topo.a.ip, "--dst-ip", topo.b.ip, "--frames",
              json.dumps(frames)]  # fmt: skip
    other = Applet(
        topo.b.ns,
        [str(PROBE), "capture", "--ip", topo.b.ip, "--port", "9001", "--max", "1", "--wait", "5"],
        binary=sys.executable,
    )
    recv = Applet(topo.b.ns, ["recv", *endpoints(topo.b, topo.a), "--json", "-X", "eth0"])
    try:
        other.wait_started()
        recv.wait_started()
        assert probe(topo.a.ns, inject)["sent"] == len(frames)
        recv.wait_received(3, timeout=3.0)
        recv.send_signal(signal.SIGTERM)
        got = recv.finish()
        passed = other.finish(timeout=10)
    finally:
        recv.kill()
        other.kill()
    s = got.summary()
    assert (s["rx"], s["lost"], s["reordered"], s["duplicated"]) == (3, 0, 0, 0), s
    assert [p[0] for p in json.loads(passed.lines[-1])["packets"]] == [7]


def test_bursts_leave_on_schedule(xdp_topo: Topology) -> None:
    """The payload timestamps, one per burst, advance by BURST/RATE, as with the sockets."""
    topo = xdp_topo
    send_cpu, _ = two_cpus()
    cap = Applet(topo.b.ns, [str(PROBE), "capture", "--ip", topo.b.ip], binary=sys.executable)
    try:
        cap.wait_started()
        sent = run(
            topo.a.ns,
            [
                "send",
                *endpoints(topo.a, topo.b),
                "--json",
                "-r",
                str(RATE),
                "-b",
                str(BURST),
                "-t",
                "1",
                "-X",
                "eth0",
                *send_cpu,
            ],
        )
        done = cap.finish(timeout=30)
    finally:
        cap.kill()
    assert sent.returncode == 0, sent.stderr
    packets = json.loads(done.lines[-1])["packets"]
    assert len(packets) == sent.summary()["sent"] == RATE
    assert [p[0] for p in packets] == list(range(RATE))
    assert all(p[2] and p[4] for p in packets), "magic set, rest of the payload untouched"
    bursts = sorted({p[1] for p in packets})
    assert len(bursts) == RATE // BURST
    half = len(bursts) // 2
    slope = statistics.median((bursts[k + half] - bursts[k]) / half for k in range(half))
    period_ns = BURST / RATE * 1e9
    assert abs(slope - period_ns) <= 0.01 * period_ns, (slope, period_ns)


@pytest.mark.parametrize("flags", [["-B"], []], ids=["blocking", "polling"])
def test_echoes_are_timed(xdp_topo: Topology, flags: list[str]) -> None:
    topo, rate = xdp_topo, 5000
    cpus = sorted(os.sched_getaffinity(0))
    pin = ["--cpu", f"{cpus[0]},{cpus[1]}"] if len(cpus) >= 2 else []
    server = Applet(topo.b.ns, ["server", *endpoints(topo.b, topo.a), "--json", "-X", "eth0",
                                *flags])  # fmt: skip
    try:
        server.wait_started()
        client = run(
            topo.a.ns,
            [
                "client",
                *endpoints(topo.a, topo.b),
                "--json",
                "-r",
                str(rate),
                "-t",
                "2",
                "-X",
                "eth0",
                *pin,
                *flags,
            ],
        )
        server.send_signal(signal.SIGTERM)
        srv = server.finish()
    finally:
        server.kill()
    assert client.returncode == 0, client.stderr
    assert srv.returncode == 0, srv.stderr
    start = client.of_type("start")[0]
    check_xdp_start(start)
    assert start["tx_stamp"] == "per-burst"
    c = client.summary()
    assert c["sent"] == c["attempted"] == math.ceil(2 * rate / BURST) * BURST, c
    assert c["echoed"] == c["sent"], c
    assert 0 < c["rtt_min_ns"] <= c["rtt_p50_ns"] <= c["rtt_p99_ns"] <= c["rtt_max_ns"], c
    assert c["rtt_p50_ns"] < 250_000_000, c
    # One stamp per burst: the last packet's RTT includes the handing over of the others.
    assert c["rtt_first_p50_ns"] <= c["rtt_last_p50_ns"] * 1.01, c
    buckets = client.of_type("hist")[0]["buckets"]
    assert sum(count for _, count in buckets) == c["echoed"]
    sv = srv.summary()
    assert sv["rx"] == sv["tx"] == c["sent"], sv


def wait_detached(ns: str, iface: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while xdp_state(ns, iface) is not None:
        assert time.monotonic() < deadline, f"still attached: {xdp_state(ns, iface)}"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "duration"])
@pytest.mark.parametrize("applet", ["recv", "client"])
def test_nothing_stays_attached(xdp_topo: Topology, applet: str, how: str) -> None:
    """The program hangs on a bpf_link the process holds: any exit, SIGKILL included,
    detaches it, and the next run attaches afresh."""
    topo = xdp_topo
    extra = ["-t", "1"] if how == "duration" else []
    argv = [applet, *endpoints(topo.b, topo.a), "--json", "-X", "eth0", "-r", "1000", *extra]
    proc = Applet(topo.b.ns, argv)
    try:
        proc.wait_started()
        state = xdp_state(topo.b.ns, "eth0")
        assert state and state["mode"] == XDP_ATTACHED_DRV, state
        assert state["prog"]["name"] == "icperf_steer", state
        if how != "duration":
            proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
        proc.finish(timeout=10)
    finally:
        proc.kill()
    assert proc.proc.returncode == (-signal.SIGKILL if how == "SIGKILL" else 0)
    wait_detached(topo.b.ns, "eth0")
    again = run(topo.b.ns, ["recv", *endpoints(topo.b, topo.a), "--json", "-X", "eth0",
                            "-t", "1"])  # fmt: skip
    assert again.returncode == 0 and again.summary()["reason"] == "duration", again.stderr
    wait_detached(topo.b.ns, "eth0")
