"""recv's sequence accounting and filtering, fed crafted packets (netem is not built into
this kernel, so loss, reordering and duplicates are injected)."""

from __future__ import annotations

import json
import signal

import pytest
from icperf_netns import Topology
from icperf_run import Applet, Finished, endpoints, probe

pytestmark = pytest.mark.root


def recv_around(topo: Topology, flags: list[str], inject: list[str], expect_rx: int) -> Finished:
    recv = Applet(topo.b.ns, ["recv", *endpoints(topo.b, topo.a), "--json", "-B", *flags])
    try:
        recv.wait_started()
        answer = probe(topo.a.ns, inject)
        assert answer["sent"] > 0
        recv.wait_received(expect_rx, timeout=3.0)
        recv.send_signal(signal.SIGTERM)
        got = recv.finish()
    finally:
        recv.kill()
    assert got.returncode == 0, got.stderr
    return got


def test_loss_reorder_and_duplicates_are_counted_exactly(topo: Topology) -> None:
    # Walk-through (H = highest seen, window W = 65536, see native/src/seqtrack.h):
    #   0 1 2        in order
    #   5            gap 3,4                 lost 2
    #   3 4          late                    reordered 2, lost 0
    #   4            seen                    duplicated 1
    #   9            gap 6,7,8               lost 3
    #   8            late                    reordered 3, lost 2
    #   2            seen                    duplicated 2
    #   100000       gap 10..99999           lost 2 + 99990 = 99992
    #   7            older than H - W        reordered 4, lost unchanged
    #   99990        late, in the window     reordered 5, lost 99991
    #   99990        seen                    duplicated 3
    # plus a wrong magic and a short datagram, which are not icperf packets at all.
    seqs = "0,1,2,5,3,4,4,9,8,2,magic:11,short,100000,7,99990,99990"
    got = recv_around(topo, [], ["udp-inject", "--dst", topo.b.ip, "--seqs", seqs], 14)
    s = got.summary()
    assert (s["rx"], s["lost"], s["reordered"], s["duplicated"]) == (14, 99991, 5, 3), s


def test_raw_recv_ignores_frames_not_addressed_to_it(topo: Topology) -> None:
    frames = [
        {"seq": 0},
        {"seq": 1, "dst_mac": "02:77:00:00:00:99"},  # flooded by the bridge, not ours
        {"seq": 1, "dst_ip": "10.77.0.99"},
        {"seq": 1, "port": 9001},
        {"seq": 1, "magic": 0x12345678},
        {"seq": 1},
        {"seq": 2},
    ]
    inject = [
        "raw-inject",
        "--iface",
        topo.a.iface,
        "--src-mac",
        topo.a.mac,
        "--dst-mac",
        topo.b.mac,
        "--src-ip",
        topo.a.ip,
        "--dst-ip",
        topo.b.ip,
        "--frames",
        json.dumps(frames),
    ]
    got = recv_around(topo, ["-R", topo.b.iface], inject, 3)
    s = got.summary()
    assert (s["rx"], s["lost"], s["reordered"], s["duplicated"]) == (3, 0, 0, 0), s
