"""client -> server -> client round trips, timed on the shared clock."""

from __future__ import annotations

import math
import os
import signal

import pytest
from icperf_netns import Topology
from icperf_run import Applet, endpoints, run

pytestmark = pytest.mark.root

RATE = 5000
MODES = {
    "udp": [],
    "raw": ["-R", "eth0"],
    "raw-mmsg-blocking": ["-R", "eth0", "-m", "-B"],
}


@pytest.mark.parametrize("mode", list(MODES))
def test_echoes_are_timed(topo: Topology, mode: str) -> None:
    flags = MODES[mode]
    cpus = sorted(os.sched_getaffinity(0))
    pin = ["--cpu", f"{cpus[0]},{cpus[1]}"] if len(cpus) >= 2 else []
    server = Applet(topo.b.ns, ["server", *endpoints(topo.b, topo.a), "--json", *flags])
    try:
        server.wait_started()
        client = run(
            topo.a.ns,
            [
                "client",
                *endpoints(topo.a, topo.b),
                "--json",
                "-r",
                str(RATE),
                "-t",
                "2",
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

    c = client.summary()
    assert c["reason"] == "duration"
    assert abs(c["offered_pps"] - RATE) <= 0.01 * RATE, c
    # Every burst due before the end of -t 2 is sent, the last one perhaps partly after.
    assert c["sent"] == c["attempted"] == math.ceil(2 * RATE / 32) * 32
    assert c["echoed"] == c["sent"], c
    assert 0 < c["rtt_min_ns"] <= c["rtt_p50_ns"] <= c["rtt_p90_ns"] <= c["rtt_p99_ns"]
    assert c["rtt_p99_ns"] <= c["rtt_p999_ns"] <= c["rtt_max_ns"]
    assert c["rtt_min_ns"] <= c["rtt_mean_ns"] <= c["rtt_max_ns"]
    # A bridge between namespaces answers within milliseconds even on a busy machine.
    assert c["rtt_p50_ns"] < 250_000_000, c

    hists = client.of_type("hist")
    assert len(hists) == 1 and hists[0]["unit"] == "ns"
    buckets = hists[0]["buckets"]
    assert sum(count for _, count in buckets) == c["echoed"]
    values = [value for value, _ in buckets]
    assert values == sorted(set(values))
    assert values[0] <= c["rtt_min_ns"] * 1.01 and values[-1] >= c["rtt_max_ns"] * 0.99

    seconds = client.of_type("second")
    assert len(seconds) == 2
    # A -t run's seconds add up to its summary (the last one includes the final echoes).
    for key in ("attempted", "sent", "dropped", "echoed"):
        assert sum(s[key] for s in seconds) == c[key], key
    for s in seconds:
        if s["echoed"]:
            assert s["rtt_min_ns"] <= s["rtt_p50_ns"] <= s["rtt_p99_ns"] <= s["rtt_max_ns"]
        else:
            assert s["rtt_p50_ns"] is None

    sv = srv.summary()
    assert sv["rx"] == sv["tx"] == c["sent"], sv
