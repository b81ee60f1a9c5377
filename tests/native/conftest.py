"""Fixtures of the generator tests: the binary, built once, and a namespace topology."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import icperf_netns
import pytest
from icperf_run import ICPERF, NATIVE

PREFIX = "icpn"
IS_ROOT = os.geteuid() == 0
ROOT_REASON = "needs root: network namespaces, veths, a bridge and raw sockets"


@pytest.fixture(scope="session")
def icperf() -> Path:
    proc = subprocess.run(["make", "-C", str(NATIVE)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"make -C native failed:\n{proc.stdout}\n{proc.stderr}")
    return ICPERF


@pytest.fixture(scope="module")
def topo(icperf: Path) -> Iterator[icperf_netns.Topology]:
    """A fresh bridge per module: no test inherits another's forwarding table."""
    if not IS_ROOT:
        pytest.skip(ROOT_REASON)
    topology = icperf_netns.create(PREFIX)
    try:
        yield topology
    finally:
        icperf_netns.destroy(PREFIX)
