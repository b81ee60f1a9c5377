"""`testset.yml -e vswitch=sriov` (then sriov-kernel) across two guest hosts joined by a cable.

Two guests of their own (one vCPU each), whose lab NIC 0 (QEMU's igb, an emulated 82576)
are cabled back to back; that NIC is each host's ``icperf_wire_nic`` and its only PF in
``sriov_pfs``. labs/remote-1vs1.yml names no VF: each host's plan puts its container on the
wire NIC's first VF, the sender's on guest0 and the receiver's on guest1, both on vfio-pci
with the dpdk- applets. A frame for the receiver's MAC is owned by no VF of guest0's NIC,
so the NIC's switch sends it out of its port; guest1's NIC gives it to the VF that owns
the MAC. Every packet sent is received; both ports' own counters (``ethtool -S``: igb's
GPTC and GPRC, which count the VFs' frames) and the VFs' registers agree with the applets;
the VFs are given back to igbvf after the test, and the role's restore removes them.
First, a wire NIC that is not one of sriov_pfs is refused before anything changes. Then the
same test with ``sriov-kernel``: the VFs' netdevs moved into the containers, the socket
applets, the kernels' own few frames besides theirs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.records import summary

from .conftest import SYSTEM_MARKS, TIMINGS, own_pool, run_playbook, run_testset
from .harness import REPO, Guest, GuestPool
from .remote import check_across, host_clean, records

pytestmark = SYSTEM_MARKS

WIRE = "0000:01:00.0"
# Lab NIC 1: an igb with SR-IOV too, on no cable (the refusal's PF).
SPARE = "0000:02:00.0"
# VF 0 of the wire NIC (QEMU's igb behind a root port: offset 0x80, stride 2).
WIRE_VF = "0000:01:10.0"
NUM_VFS = 2
TESTSET: dict[str, Any] = {"lab_dir": REPO / "labs", "pkt_sizes": [64], "rates": [2000],
                           "bursts": [32], "duration": 6, "label": "remote sriov"}  # fmt: skip


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestPool]:
    with own_pool("remote sriov pair", tmp_path_factory.mktemp("remote-sriov"), 2, wire=True,
                  lab_nics=2) as booted:  # fmt: skip
        yield booted


def write_inventory(pool: GuestPool, directory: Path, sriov_pfs: list[dict[str, Any]]) -> Path:
    """The pool's inventory (both hosts with icperf_wire_nic), no core reserved (one vCPU),
    each host with ``sriov_pfs``."""
    data = json.loads(pool.inventory.read_text())
    for host in data["all"]["children"]["icperf_hosts"]["hosts"].values():
        assert host["icperf_wire_nic"] == WIRE, host
        host.update(icperf_reserved_cores=[], sriov_pfs=sriov_pfs)
    path = directory / "inventory.yml"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


@pytest.fixture(scope="module")
def iommu(pool: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> list[Guest]:
    """vfio-pci needs each guest's IOMMU; the kernel_cmdline role turns it on when off."""
    if not all(g.ssh("ls /sys/class/iommu").stdout.strip() for g in pool.guests):
        tmp = tmp_path_factory.mktemp("remote-sriov-iommu")
        on = run_playbook(tmp, pool.inventory, "tests/guests/playbooks/kernel_cmdline.yml",
                          {"kernel_cmdline_iommu": "intel"})  # fmt: skip
        TIMINGS["remote sriov: IOMMU on, with a reboot (s)"] = on.seconds
        assert on.rc == 0, on.failure_messages() or on.stdout[-3000:]
    assert all(g.ssh("ls /sys/class/iommu").stdout.strip() for g in pool.guests)
    return pool.guests


def sriov_state(guests: list[Guest]) -> dict[str, str]:
    """Each host's VF counts, PF drivers and links, and the role's saved state."""
    return {
        guest.name: guest.ssh(
            f"for pf in {WIRE} {SPARE}; do d=/sys/bus/pci/devices/$pf; "
            "echo $pf $(cat $d/sriov_numvfs) $(basename $(readlink $d/driver)) "
            "$(cat $d/net/*/operstate); done; ls /var/lib/icperf/sriov.json 2>&1; "
            "systemctl is-enabled icperf-sriov.service 2>&1 || true"
        ).stdout
        for guest in guests
    }


def test_a_wire_nic_that_is_not_one_of_sriov_pfs_is_refused(
    pool: GuestPool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("remote-sriov-refused")
    inventory = write_inventory(pool, tmp, [{"pf": SPARE, "num_vfs": NUM_VFS}])
    before = sriov_state(pool.guests)
    run = run_testset(tmp, inventory, "sriov", ["remote-1vs1.yml"], tmp / "results", **TESTSET)
    assert run.rc != 0, run.stdout[-4000:]
    TIMINGS["remote sriov: refused run (s)"] = run.seconds
    messages = run.failure_messages()
    assert any(
        f"sriov_pfs: the NIC cabled to the other host (icperf_wire_nic: {WIRE}) is not one "
        f"of the PFs listed ({SPARE}" in text for text in messages
    ), messages
    assert sriov_state(pool.guests) == before
    assert not (tmp / "results").exists()


def vf_drivers(guest: Guest) -> list[str]:
    # A PF without VFs has no virtfn link: the glob stays unexpanded.
    out = guest.ssh(f"for vf in /sys/bus/pci/devices/{WIRE}/virtfn*; do [ -e $vf ] || continue; "
                    "basename $(readlink $vf/driver); done").stdout  # fmt: skip
    return out.split()


@pytest.fixture(scope="module")
def inventory(pool: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_inventory(pool, tmp_path_factory.mktemp("remote-sriov-inventory"),
                           [{"pf": WIRE, "num_vfs": NUM_VFS}])  # fmt: skip


# Frames the containers' kernels send besides the applets' (sriov-kernel only): ARP, the
# sender's priming ping and its answer, IPv6 neighbour discovery and MLD when LXC brings
# the VF up. The dpdk- applets send nothing else.
KERNEL_FRAMES = 20


# sriov first: the thesis' way, and the row the provisioning of the first run serves.
@pytest.mark.parametrize("vswitch", ["sriov", "sriov-kernel"])
def test_testset_on_vfs_across_the_wire(
    iommu: list[Guest], inventory: Path, tmp_path_factory: pytest.TempPathFactory, vswitch: str
) -> None:
    tmp = tmp_path_factory.mktemp(f"remote-{vswitch}-run")
    results = tmp / "results"
    run = run_testset(tmp, inventory, vswitch, ["remote-1vs1.yml"], results, **TESTSET)
    assert run.rc == 0, run.failure_messages() or run.stdout[-8000:]
    record = records(results)["remote"]
    assert record["params"]["vswitch"] == vswitch
    moved = check_across(record, iommu)
    kernel = vswitch == "sriov-kernel"
    apps = {app["container"]: app for app in record["apps"]}
    sent = summary(record["folder"] / apps["icp0"]["log"])["sent"]
    for name, container, app in (("guest0", "icp0", "send"), ("guest1", "icp1", "recv")):
        host = record["hosts"][name]
        wire = host["wire"]
        # The PF stayed on igb; its port counted the VFs' frames (its interface's own
        # counters would not: they count only the PF's queues).
        assert (wire["driver"], wire["netdev"] != "", wire["source"]) == ("igb", True, "port")
        # The plan gave each container the wire NIC's VF 0.
        (vf,) = host["switch"]["vfs"]
        assert (vf["container"], vf["pf"], vf["pci"], vf["driver"]) == (
            container, WIRE, WIRE_VF, "igbvf" if kernel else "vfio-pci"), vf  # fmt: skip
        if not kernel:
            command = apps[container]["command"]
            assert command[command.index("-a") + 1] == WIRE_VF
        # The VF's own counters: the applets' frames, exactly with the dpdk- applets.
        counted = vf["counters"]["tx_packets" if app == "send" else "rx_packets"]
        assert 0 <= counted - sent <= (KERNEL_FRAMES if kernel else 0), (name, vf)
        moved[f"{name} VF {'tx' if app == 'send' else 'rx'}"] = counted
        moved[f"{name} wire"] = {k: wire[k] for k in ("rx_packets", "tx_packets", "rx_bytes",
                                                       "tx_bytes")}  # fmt: skip
    TIMINGS[f"remote {vswitch} 1vs1"] = json.dumps(moved)

    for guest in iommu:
        assert host_clean(guest) == "", guest.name
        # The test's VFs are back on the kernel's VF driver, the PF on igb.
        assert vf_drivers(guest) == ["igbvf"] * NUM_VFS, guest.name
        assert guest.ssh(f"basename $(readlink /sys/bus/pci/devices/{WIRE}/driver)"
                         ).stdout.strip() == "igb"  # fmt: skip


def test_the_roles_restore_removes_the_vfs(
    iommu: list[Guest], inventory: Path, tmp_path: Path
) -> None:
    """The VFs provisioning made (role sriov) removed: the hosts as before provisioning."""
    assert all(vf_drivers(guest) for guest in iommu)
    restore = run_playbook(tmp_path, inventory, "tests/guests/playbooks/sriov.yml",
                           {"sriov_test_entry": "restore"})  # fmt: skip
    TIMINGS["remote sriov: role sriov restore (s)"] = restore.seconds
    assert restore.rc == 0, restore.failure_messages() or restore.stdout[-4000:]
    for guest in iommu:
        assert guest.read(f"/sys/bus/pci/devices/{WIRE}/sriov_numvfs").strip() == "0"
        assert vf_drivers(guest) == []
        assert guest.ssh("systemctl is-enabled icperf-sriov.service",
                         check=False).stdout.strip() != "enabled"  # fmt: skip
