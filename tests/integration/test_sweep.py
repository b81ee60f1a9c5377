"""A real test set: LXC containers on a linux bridge exchanging packets, results tree checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    BRIDGE,
    HOST_TEST_MARKS,
    LABS,
    REPO,
    base_vars,
    host_state,
    read_records,
    run_playbook,
    summary,
)

pytestmark = HOST_TEST_MARKS

SWEEP_PATHS = [
    "icpl-pair/d3/32/linux-bridge/64/20000",
    "icpl-pair/d3/32/linux-bridge/128/20000",
]


def _check_test_json(record: dict[str, Any], path: str, pkt_size: int) -> None:
    assert record["v"] == 1
    assert record["id"] == path
    assert record["status"] == "ok", record["reason"]
    assert record["reason"] is None
    params = record["params"]
    assert params["vswitch"] == "linux-bridge"
    assert params["pkt_size"] == pkt_size
    assert params["rate"] == 20000
    assert params["burst"] == 32
    assert params["duration"] == 3
    assert params["dimension"] == "throughput"
    assert params["pairs"] == 1
    assert record["start"] <= record["end"]
    host = record["host"]
    assert host["kernel"] and host["cpu_model"] and host["cores"] >= 1
    assert "governor" in host
    # The command line as the host runs it, and the one provisioning verified only when
    # a record of it says so (no provisioning record on a host the lab never rebooted).
    cmdline = Path("/proc/cmdline").read_text().strip()
    assert host["cmdline"] == cmdline
    record_file = Path("/var/lib/icperf/reprovision.json")
    verified = json.loads(record_file.read_text())["cmdline"] if record_file.exists() else ""
    assert host["cmdline_verified"] == (verified if verified == cmdline else "")
    versions = record["versions"]
    assert versions["icperf"] and versions["lxc"] and versions["linux-bridge"]
    assert {(a["container"], a["app"]) for a in record["apps"]} == {
        ("icpl-s0", "send"),
        ("icpl-r0", "recv"),
    }


def test_two_test_sweep_delivers_every_packet(tmp_path: Path, clean_host: dict[str, Any]) -> None:
    run = run_playbook(tmp_path, "testset.yml", base_vars(tmp_path, pkt_sizes="64 128"))

    assert run.rc == 0, run.stdout[-4000:]
    assert "icperf: 2 tests (0 already done)" in run.stdout
    assert "icperf: test 2/2 icpl-pair/d3/32/linux-bridge/128/20000" in run.stdout
    results = tmp_path / "results"
    for path, pkt_size in zip(SWEEP_PATHS, (64, 128), strict=True):
        folder = results / path
        _check_test_json(json.loads((folder / "test.json").read_text()), path, pkt_size)
        sent = summary(folder / "icpl-s0.send.jsonl")
        received = summary(folder / "icpl-r0.recv.jsonl")
        assert sent["reason"] == "duration"
        assert received["reason"] == "signal"
        # The receiver runs before the sender starts and until after it ends, so every
        # packet the sender's socket accepted must have arrived, in order.
        assert sent["sent"] > 0
        assert received["rx"] == sent["sent"]
        assert received["lost"] == 0 and received["reordered"] == 0
        seconds = [r for r in read_records(folder / "icpl-s0.send.jsonl") if r["type"] == "second"]
        assert len(seconds) == 3
        start = read_records(folder / "icpl-s0.send.jsonl")[0]
        assert start["type"] == "start" and start["pkt_size"] == pkt_size

    # Everything is gone and restored.
    assert host_state() == clean_host
    assert BRIDGE not in host_state()["links"]


def test_latency_run_test_echoes(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None
) -> None:
    extravars = {
        "vswitch": "linux-bridge",
        "lab": str(LABS / "icpl-latency.yml"),
        "pkt_size": 64,
        "burst": 1,
        "rate": 2000,
        "duration": 3,
        "results_dir": str(tmp_path / "results"),
        "vswitch_linux_bridge_name": BRIDGE,
        "provision": False,
    }
    run = run_playbook(tmp_path, "run_test.yml", extravars)

    assert run.rc == 0, run.stdout[-4000:]
    folder = tmp_path / "results" / "icpl-latency/d3/1/linux-bridge/64/2000"
    record = json.loads((folder / "test.json").read_text())
    assert record["status"] == "ok", record["reason"]
    assert record["params"]["dimension"] == "latency"
    client = summary(folder / "icpl-l0.client.jsonl")
    server = summary(folder / "icpl-l1.server.jsonl")
    assert client["sent"] > 0
    assert 0 < client["echoed"] <= client["sent"]
    assert server["rx"] >= client["echoed"]
    assert client["rtt_min_ns"] > 0
    assert host_state() == clean_host


@pytest.mark.parametrize(
    ("lab", "vswitch", "apps"),
    [
        ("1vs1.yml", "linux-bridge", ["send", "recv"]),
        ("2vs2.yml", "linux-bridge", ["send", "recv", "send", "recv"]),
        ("latency-1vs1.yml", "linux-bridge", ["client", "server"]),
        ("thesis-listing-4.1.yml", "sriov", ["send", "recv", "send"]),
        ("remote-1vs1.yml", "linux-bridge", ["send", "recv"]),
        ("remote-latency-1vs1.yml", "linux-bridge", ["client", "server"]),
        ("remote-2vs2.yml", "ovs", ["send", "recv", "send", "recv"]),
    ],
)
def test_shipped_labs_are_valid(lab: str, vswitch: str, apps: list[str]) -> None:
    collections = REPO / ".venv" / "collections"
    if not (collections / "ansible_collections" / "icperf" / "lab").exists():
        pytest.skip("the collection link is missing (run scripts/setup.sh)")
    sys.path.insert(0, str(collections))
    try:
        from ansible_collections.icperf.lab.plugins.module_utils import labfile
    finally:
        sys.path.remove(str(collections))

    lab_file = labfile.load_lab_file(str(REPO / "labs" / lab))
    containers = labfile.lab_containers(lab_file, 8, [0], 0, vswitch)
    assert [c["app"] for c in containers] == apps
    assert len({c["ip"] for c in containers}) == len(containers)
