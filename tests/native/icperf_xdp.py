"""What the AF_XDP tests share: whether they can run here, their topology, and what the
kernel says is attached to an interface. Each test module wraps require_xdp and topology
in fixtures of its own."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import icperf_netns
import pytest

PREFIX = "icpxdp"  # namespaces icpxdp-a, icpxdp-b, icpxdp-br: apart from the other tests'
AF_XDP = 44
# TEST-NET-1 (RFC 5737): valid, but never an address of this machine.
GOOD = ["10.77.0.1", "02:77:00:00:00:01", "10.77.0.2", "02:77:00:00:00:02"]
XDP_ATTACHED_DRV, XDP_ATTACHED_SKB = 1, 2  # IFLA_XDP_ATTACHED


def kernel_has_xdp_sockets() -> bool:
    try:
        socket.socket(AF_XDP, socket.SOCK_RAW, 0).close()
    except OSError as exc:
        return exc.errno != errno.EAFNOSUPPORT
    return True


def build_has_xdp(icperf: Path) -> bool:
    """A build without libxdp, libbpf or clang refuses -X at run time, saying so."""
    done = subprocess.run(
        [str(icperf), "recv", *GOOD, "-X", "icpxdp-none0"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return "no AF_XDP support" not in done.stderr


def skip_reason(icperf: Path) -> str | None:
    if os.geteuid() != 0:
        return "needs root: network namespaces, XDP programs and AF_XDP sockets"
    if not kernel_has_xdp_sockets():
        return "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)"
    if not build_has_xdp(icperf):
        return "icperf was built without AF_XDP (libxdp-dev, libbpf-dev and clang missing)"
    return None


def require_xdp(icperf: Path) -> Path:
    """The binary, or a skip saying what this machine or build lacks."""
    reason = skip_reason(icperf)
    if reason:
        pytest.skip(reason)
    return icperf


@contextmanager
def topology() -> Iterator[icperf_netns.Topology]:
    """A fresh bridge: no test module inherits another's forwarding table."""
    topo = icperf_netns.create(PREFIX)
    try:
        yield topo
    finally:
        icperf_netns.destroy(PREFIX)


def xdp_state(ns: str, iface: str) -> dict[str, Any] | None:
    """The interface's "xdp" entry as `ip -j link` gives it (mode, prog), None if none."""
    out = subprocess.run(
        ["ip", "-n", ns, "-j", "link", "show", "dev", iface],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    state = json.loads(out)[0].get("xdp")
    return state if isinstance(state, dict) else None
