"""send -> recv through a linux bridge between two namespaces, in every socket mode."""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys

import pytest
from icperf_netns import Topology
from icperf_run import PROBE, Applet, endpoints, run

pytestmark = pytest.mark.root

RATE = 20000
SECONDS = 2
BURST = 32
MODES = {
    "udp": [],
    "udp-mmsg": ["-m"],
    "raw": ["-R", "eth0"],
    "raw-mmsg": ["-R", "eth0", "-m"],
    "blocking": ["-B"],
    "consume": ["-c"],
}


def cpu_flags() -> tuple[list[str], list[str]]:
    """Sender and receiver on different CPUs, so the two busy loops never share one."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return [], []
    return ["--cpu", str(cpus[0])], ["--cpu", str(cpus[1])]


@pytest.mark.parametrize("mode", list(MODES))
def test_send_recv_delivers_every_packet(topo: Topology, mode: str) -> None:
    flags = MODES[mode]
    send_cpu, recv_cpu = cpu_flags()
    recv = Applet(topo.b.ns, ["recv", *endpoints(topo.b, topo.a), "--json", *recv_cpu, *flags])
    try:
        recv.wait_started()
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
                str(SECONDS),
                *send_cpu,
                *flags,
            ],
        )
        recv.wait_received(sent.summary()["sent"])
        recv.send_signal(signal.SIGTERM)
        got = recv.finish()
    finally:
        recv.kill()

    assert sent.returncode == 0, sent.stderr
    assert got.returncode == 0, got.stderr
    start = sent.of_type("start")[0]
    assert start["transport"] == ("raw" if "-R" in flags else "udp")
    assert start["mmsg"] == ("-m" in flags)
    assert start["blocking"] == ("-B" in flags)
    assert start["consume"] == ("-c" in flags)
    assert start["iface"] == ("eth0" if "-R" in flags else None)

    s = sent.summary()
    assert s["reason"] == "duration"
    assert s["seconds"] == SECONDS == len(sent.of_type("second"))
    assert abs(s["offered_pps"] - RATE) <= 0.01 * RATE, s
    assert s["dropped"] == 0 and s["sent"] == s["attempted"], s
    # Each second's record is consistent with the pacing clock and the wall clock.
    for key in ("attempted", "sent", "dropped"):
        assert sum(rec[key] for rec in sent.of_type("second")) == s[key], key
    for rec in sent.of_type("second"):
        assert rec["dropped"] == rec["attempted"] - rec["sent"]
        assert abs((rec["ts"] - start["ts"]) - rec["t"]) < 0.02, (start, rec)

    r = got.summary()
    assert r["reason"] == "signal"
    assert (r["rx"], r["lost"], r["reordered"], r["duplicated"]) == (s["sent"], 0, 0, 0), r
    assert sum(rec["rx"] for rec in got.of_type("second")) <= r["rx"]


def capture_send(topo: Topology, send_args: list[str]) -> tuple[dict, list[list]]:
    cap = Applet(topo.b.ns, [str(PROBE), "capture", "--ip", topo.b.ip], binary=sys.executable)
    try:
        cap.wait_started()
        sent = run(topo.a.ns, ["send", *endpoints(topo.a, topo.b), "--json", *send_args])
        done = cap.finish(timeout=30)
    finally:
        cap.kill()
    assert sent.returncode == 0, sent.stderr
    assert done.returncode == 0, done.stderr
    return sent.summary() | {"start": sent.of_type("start")[0]}, json.loads(done.lines[-1])[
        "packets"
    ]


@pytest.mark.parametrize("clock", ["tsc", "monotonic_raw"])
def test_bursts_leave_on_schedule(topo: Topology, clock: str) -> None:
    """The payload timestamps, taken when each burst leaves, advance by BURST/RATE."""
    send_cpu, _ = cpu_flags()
    summary, packets = capture_send(
        topo, ["-r", str(RATE), "-b", str(BURST), "-t", "1", "--clock", clock, *send_cpu]
    )
    assert summary["start"]["clock"] == clock
    assert (summary["start"]["tsc_hz"] > 0) == (clock == "tsc")
    assert len(packets) == summary["sent"] == RATE
    assert [p[0] for p in packets] == list(range(len(packets)))
    assert all(p[2] for p in packets), "every packet carries the icperf magic"
    assert all(p[4] for p in packets), "without -c the payload after the header is untouched"

    bursts = sorted({p[1] for p in packets})
    assert len(bursts) == RATE // BURST
    # Median slope over half the run: robust to the few bursts a preemption delays.
    half = len(bursts) // 2
    slope = statistics.median((bursts[k + half] - bursts[k]) / half for k in range(half))
    period_ns = BURST / RATE * 1e9
    assert abs(slope - period_ns) <= 0.01 * period_ns, (slope, period_ns)


def test_consume_writes_every_payload_byte(topo: Topology) -> None:
    summary, packets = capture_send(topo, ["-r", "2000", "-t", "1", "-p", "300", "-c"])
    assert len(packets) == summary["sent"] > 0
    assert all(p[3] for p in packets), "with -c every byte after the header has the pattern"
