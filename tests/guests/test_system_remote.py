"""`testset.yml` across two guest hosts joined by a cable (harness --wire): remote tests.

Two guests of their own (one vCPU each), whose lab NIC 0 (emulated igb) are cabled back to
back, provisioned by the first test set as a user runs it. The set mixes a test across the
hosts (labs/remote-1vs1.yml: the sender on guest0, its receiver on guest1, through each
host's switch and the cable) with a local one (labs/1vs1.yml, on guest0 alone). Every
packet sent on one host is counted by the receiver on the other, and by both NICs of the
cable; test.json holds both hosts' facts and the link's line rate; the analysis draws the
remote figures from the run. Then OVS-DPDK with the wire NIC as a DPDK port (vfio-pci, the
guests' IOMMU on). The faults across the cable: test_system_remote_faults.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from .conftest import SYSTEM_MARKS, TIMINGS, run_playbook, run_testset
from .harness import Guest, GuestPool
from .remote import (
    ANALYSIS_WINDOW,
    PKT_SIZES,
    TESTSET,
    WIRE,
    check_across,
    check_round_trips,
    host_clean,
    records,
)

pytestmark = SYSTEM_MARKS


def test_remote_and_local_tests_over_linux_bridge(
    cabled_pair: GuestPool, cabled_inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("remote-bridge")
    results = tmp / "results"
    run = run_testset(tmp, cabled_inventory, "linux-bridge",
                      ["remote-1vs1.yml", "1vs1.yml", "remote-latency-1vs1.yml"], results,
                      **{**TESTSET, "pkt_sizes": PKT_SIZES})  # fmt: skip
    assert run.rc == 0, run.stdout[-8000:]
    for size in PKT_SIZES:
        found = records(results, size)
        assert set(found) == {"remote", "local", "latency"}, list(results.rglob("test.json"))
        TIMINGS[f"remote linux-bridge latency P{size}"] = json.dumps(
            check_round_trips(found["latency"]))
        moved = check_across(found["remote"], cabled_pair.guests)
        TIMINGS[f"remote linux-bridge 1vs1 P{size}"] = json.dumps(moved)
        local = found["local"]
        assert local["status"] == "ok", local["reason"]
        # The local test ran on guest0 alone, its record as on one host.
        assert {app["host"] for app in local["apps"]} == {"guest0"}
        assert "hosts" not in local and local["host"]["kernel"]
    for guest in cabled_pair.guests:
        assert host_clean(guest) == "", guest.name

    from icperf_analysis.cli import main

    out = tmp / "report"
    assert main([str(results), "--out", str(out), *ANALYSIS_WINDOW]) == 0
    table = pd.read_csv(out / "summary.csv")
    assert set(table["hosts"]) == {"local", "remote"}
    remote = table[table["hosts"] == "remote"]
    assert (remote["line_rate_bps"] == 1e9).all(), remote
    # Figure 5.4's kind (M against P, L = remote) is drawn with the recorded line rate.
    report = (out / "report.html").read_text()
    assert "1 GbE, recorded in test.json" in report, report[:3000]
    drawn = [path.name for path in out.rglob("max_vs_pkt_*remote*.png")]
    # Figure 5.11's kind: round trips against P, L = remote.
    drawn += [path.name for path in out.rglob("rtt_vs_pkt_*remote*.png")]
    assert {name.split("_vs_")[0] for name in drawn} == {"max", "rtt"}, list(out.rglob("*.png"))
    TIMINGS["remote figures"] = ", ".join(sorted(drawn))


@pytest.fixture(scope="module")
def iommu(cabled_pair: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> list[Guest]:
    """vfio-pci needs each guest's IOMMU; the kernel_cmdline role turns it on when off."""
    if not all(g.ssh("ls /sys/class/iommu").stdout.strip() for g in cabled_pair.guests):
        tmp = tmp_path_factory.mktemp("remote-iommu")
        on = run_playbook(tmp, cabled_pair.inventory, "tests/guests/playbooks/kernel_cmdline.yml",
                          {"kernel_cmdline_iommu": "intel"})  # fmt: skip
        TIMINGS["remote: IOMMU on, with a reboot (s)"] = on.seconds
        assert on.rc == 0, on.failure_messages() or on.stdout[-3000:]
    assert all(g.ssh("ls /sys/class/iommu").stdout.strip() for g in cabled_pair.guests)
    return cabled_pair.guests


def test_remote_over_ovs_dpdk_with_the_wire_nic_as_a_dpdk_port(
    iommu: list[Guest], cabled_inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("remote-ovs")
    results = tmp / "results"
    run = run_testset(tmp, cabled_inventory, "ovs", ["remote-1vs1.yml"], results, **TESTSET)
    assert run.rc == 0, run.stdout[-8000:]
    record = records(results)["remote"]
    moved = check_across(record, iommu)
    for name in ("guest0", "guest1"):
        wire = record["hosts"][name]["wire"]
        # OVS drove the NIC: its counters came from OVS's dpdk port.
        assert (wire["driver"], wire["source"]) == ("vfio-pci", "ovs"), wire
    TIMINGS["remote ovs 1vs1"] = json.dumps(moved)
    for guest in iommu:
        assert host_clean(guest) == "", guest.name
        # The NIC is back on its own driver.
        assert guest.ssh(f"basename $(readlink /sys/bus/pci/devices/{WIRE}/driver)"
                         ).stdout.strip() == "igb"  # fmt: skip
