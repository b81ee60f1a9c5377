"""SIGINT/SIGTERM end a run cleanly; -s holds the per-second records until the end."""

from __future__ import annotations

import signal
import time

import pytest
from icperf_netns import Topology
from icperf_run import Applet, endpoints

pytestmark = pytest.mark.root

SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}


@pytest.mark.parametrize("applet", ["send", "recv", "client", "server"])
@pytest.mark.parametrize("name", list(SIGNALS))
def test_signal_ends_run_with_summary(topo: Topology, applet: str, name: str) -> None:
    # recv and server block (-B) so they idle while nothing arrives; the others pace.
    extra = ["-B"] if applet in ("recv", "server") else ["-r", "1000"]
    proc = Applet(topo.a.ns, [applet, *endpoints(topo.a, topo.b), "--json", *extra])
    try:
        proc.wait_started()
        time.sleep(0.3)
        proc.send_signal(SIGNALS[name])
        done = proc.finish(timeout=5)
    finally:
        proc.kill()
    assert done.returncode == 0, done.stderr
    types = [r["type"] for r in done.records()]
    expected_tail = ["summary", "hist"] if applet == "client" else ["summary"]
    assert types[0] == "start" and types[-len(expected_tail) :] == expected_tail, types
    s = done.summary()
    assert s["reason"] == "signal" and s["app"] == applet
    assert 0.2 < s["elapsed"] < 3.0, s
    if applet in ("send", "client"):
        assert s["attempted"] > 0


def test_deferred_records_wait_for_the_end(topo: Topology) -> None:
    recv = Applet(topo.b.ns, ["recv", *endpoints(topo.b, topo.a), "-B", "-s"])
    send = None
    try:
        # The sender starts only once the receiver's socket is bound: a first burst sent
        # before that is refused by the receiving stack and shows up as lost.
        recv.wait_started()
        send = Applet(topo.a.ns, ["send", *endpoints(topo.a, topo.b), "-r", "2000", "-s"])
        send.wait_started()
        time.sleep(2.3)
        # Two seconds have passed: still only the start records.
        assert send.output_so_far().count("\n") == 1
        assert recv.output_so_far().count("\n") == 1
        send.send_signal(signal.SIGTERM)
        sent = send.finish(timeout=5)
        # -s shows nothing to wait on: give the last burst time to be read.
        time.sleep(0.5)
        recv.send_signal(signal.SIGINT)
        got = recv.finish(timeout=5)
    finally:
        if send is not None:
            send.kill()
        recv.kill()
    assert sent.returncode == 0 and got.returncode == 0
    # Text form: start, the held Tx-pps/Rx-pps seconds, then the summary.
    assert sent.lines[0].startswith("Start: app=send") and "deferred=true" in sent.lines[0]
    tx = [line for line in sent.lines if line.startswith("Tx-pps: ")]
    rx = [line for line in got.lines if line.startswith("Rx-pps: ")]
    assert len(tx) >= 2 and len(rx) >= 2
    assert sent.lines[-1].startswith("Summary: app=send") and "reason=signal" in sent.lines[-1]
    assert got.lines[-1].startswith("Summary: app=recv") and "reason=signal" in got.lines[-1]
    summary = dict(kv.split("=", 1) for kv in got.lines[-1].split()[1:])
    sent_summary = dict(kv.split("=", 1) for kv in sent.lines[-1].split()[1:])
    assert summary["rx"] == sent_summary["sent"] and summary["lost"] == "0"


@pytest.mark.parametrize("applet", ["send", "client"])
def test_signal_stops_a_sender_that_cannot_keep_up(topo: Topology, applet: str) -> None:
    """A rate no socket reaches keeps the pacer permanently behind: never idle, it must
    still see the signal, and it reports the lower rate it really offered."""
    proc = Applet(topo.a.ns, [applet, *endpoints(topo.a, topo.b), "--json", "-r", "50000000"])
    try:
        proc.wait_started()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        done = proc.finish(timeout=5)
    finally:
        proc.kill()
    assert done.returncode == 0, done.stderr
    s = done.summary()
    assert s["reason"] == "signal"
    assert 0 < s["offered_pps"] < 50_000_000 * 0.5, s
    assert "fell behind the rate" in done.stderr
