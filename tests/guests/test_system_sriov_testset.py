"""`testset.yml -e vswitch=sriov` (and sriov-kernel) from the controller against a guest host.

A guest of its own with one emulated 82576 (QEMU's igb behind a PCIe root port: PF
0000:01:00.0), provisioned once by the first test set as a user runs it (icperf built in
the guest, LXC and the shared rootfs, the PF's VFs by role sriov) and shared by the tests
of this file. Real LXC containers on VFs, both attachments of the switch-traits table:
``sriov-kernel`` (the VF's netdev moved into the container, socket applets) and ``sriov``
(the VF on vfio-pci, its IOMMU group and hugetlbfs bind-mounted, the dpdk- applets with
``-a VF_PCI``; the guest's IOMMU turned on first). Every packet the receivers counted is
one the senders recorded, and the NIC's per-VF counters (test.json, read by the switch
role around the containers' run) agree; the analysis makes its tables from the fetched
results. The guest has one vCPU: its inventory entry leaves no core reserved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from integration.records import summary

from .conftest import SYSTEM_MARKS, TIMINGS, own_pool, run_playbook, run_testset
from .harness import REPO, Guest, GuestPool

pytestmark = SYSTEM_MARKS

PF = "0000:01:00.0"
LABS = REPO / "tests" / "guests" / "labs"
RATE = 2000
DURATION = 6
PKT_SIZE = 64
BURST = 32
# Four VFs: room for the 2vs2 lab (the emulated 82576 has sriov_totalvfs = 7).
SRIOV_PFS = [{"pf": PF, "num_vfs": 4}]
ANALYSIS_WINDOW = ["--warmup", "1", "--cooldown", "1"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestPool]:
    with own_pool(
        "sriov test set guest", tmp_path_factory.mktemp("sriov-run"), lab_nics=1
    ) as booted:
        yield booted


@pytest.fixture(scope="module")
def guest(pool: GuestPool) -> Guest:
    return pool.guests[0]


@pytest.fixture(scope="module")
def inventory(pool: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness's inventory with the lab host's SR-IOV NIC and no reserved core (one
    vCPU). The hugepages role's default pool (1024 pages of 2 MB) holds the 2vs2 lab's four
    dpdk- applets (-m 256 each) and fits the guest's 4 GiB."""
    data = json.loads(pool.inventory.read_text())
    for host in data["all"]["children"]["icperf_hosts"]["hosts"].values():
        host.update(icperf_reserved_cores=[], sriov_pfs=SRIOV_PFS)
    path = tmp_path_factory.mktemp("sriov-run-inventory") / "inventory.yml"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


@pytest.fixture(scope="module")
def iommu(pool: GuestPool, guest: Guest, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    """vfio-pci needs the guest's IOMMU (Debian's kernel has no VFIO_NOIOMMU). The harness's
    guests have it on already (QEMU's intel-iommu); otherwise the kernel_cmdline role turns
    it on, with one reboot through the guest's GRUB."""
    if not guest.ssh("ls /sys/class/iommu").stdout.strip():
        tmp = tmp_path_factory.mktemp("sriov-run-iommu")
        on = run_playbook(tmp, pool.inventory, "tests/guests/playbooks/kernel_cmdline.yml",
                          {"kernel_cmdline_iommu": "intel"})  # fmt: skip
        TIMINGS["sriov test set: IOMMU on, with a reboot (s)"] = on.seconds
        assert on.rc == 0, on.failure_messages() or on.stdout[-3000:]
    assert guest.ssh("ls /sys/class/iommu").stdout.strip()
    return guest


def records(results: Path, vswitch: str) -> dict[str, dict[str, Any]]:
    """test.json of every test of ``vswitch`` under ``results``, by lab."""
    found = {}
    for path in results.glob(f"*/**/{vswitch}/{PKT_SIZE}/{RATE}/test.json"):
        found[path.relative_to(results).parts[0]] = {**json.loads(path.read_text()),
                                                     "folder": path.parent}  # fmt: skip
    return found


def check_delivery(record: dict[str, Any], pairs: int) -> dict[str, dict[str, Any]]:
    """Every packet each receiver counted is one its sender recorded, in order; returns
    each app's summary by container."""
    assert record["status"] == "ok", record["reason"]
    apps = {app["container"]: app for app in record["apps"]}
    assert len(apps) == 2 * pairs
    summaries = {name: summary(record["folder"] / app["log"]) for name, app in apps.items()}
    for name, app in apps.items():
        if app["app"] != "recv":
            continue
        # A receiver's peer is its sender.
        sender = summaries[app["peer"]]
        received = summaries[name]
        assert received["lost"] == 0 and received["reordered"] == 0, received
        assert received["rx"] == sender["sent"] > 0, (sender, received)
    sent = sum(s["sent"] for n, s in summaries.items() if apps[n]["app"] == "send")
    got = sum(s["rx"] for n, s in summaries.items() if apps[n]["app"] == "recv")
    assert got == sent > 0, summaries
    return summaries


# Frames the containers' kernels send besides the applets' (sriov-kernel only): ARP, the
# sender's priming ping and its answer, IPv6 neighbour discovery and MLD when LXC brings
# the VF up. The DPDK applets send nothing else.
KERNEL_FRAMES = 20


def check_counters(record: dict[str, Any], vswitch: str, lab: str) -> None:
    """test.json names the PF and each container's VF with its driver, and the NIC's own
    per-VF counters agree with the applets' records."""
    switch = record["switch"]
    assert [(pf["address"], pf["driver"]) for pf in switch["pfs"]] == [(PF, "igb")], switch
    vfs = {vf["container"]: vf for vf in switch["vfs"]}
    apps = {app["container"]: app for app in record["apps"]}
    assert set(vfs) == set(apps)
    kernel = vswitch == "sriov-kernel"
    moved: dict[str, Any] = {}
    for name, vf in vfs.items():
        assert vf["pf"] == PF and vf["pci"].startswith("0000:01:1"), vf
        assert vf["driver"] == ("igbvf" if kernel else "vfio-pci"), vf
        # igbvf's interface counters are read from the VF's registers; on vfio-pci the
        # registers are read directly.
        assert vf["counters_source"] == ("netdev" if kernel else "registers"), vf
        counted = vf["counters"]
        own = summary(record["folder"] / apps[name]["log"])
        if apps[name]["app"] == "send":
            extra = counted["tx_packets"] - own["sent"]
        else:
            extra = counted["rx_packets"] - own["rx"]
        moved[name] = {**counted, "applet": own.get("sent", own.get("rx")), "extra": extra}
        if kernel:
            assert 0 <= extra <= KERNEL_FRAMES, (name, counted, own)
        else:
            assert extra == 0, (name, counted, own)
    TIMINGS[f"{vswitch} {lab} VF counters"] = json.dumps(moved)


@pytest.mark.parametrize("vswitch", ["sriov-kernel", "sriov"])
def test_testset_on_vfs(
    iommu: Guest, inventory: Path, tmp_path_factory: pytest.TempPathFactory, vswitch: str
) -> None:
    tmp = tmp_path_factory.mktemp(f"testset-{vswitch}")
    results = tmp / "results"
    run = run_testset(tmp, inventory, vswitch, ["sriov-1vs1.yml", "sriov-2vs2.yml"], results,
                      lab_dir=LABS, pkt_sizes=[PKT_SIZE], rates=[RATE], bursts=[BURST],
                      duration=DURATION)  # fmt: skip
    assert run.rc == 0, run.stdout[-8000:]
    found = records(results, vswitch)
    assert set(found) == {"sriov-1vs1", "sriov-2vs2"}, list(results.rglob("test.json"))
    for lab, pairs in (("sriov-1vs1", 1), ("sriov-2vs2", 2)):
        record = found[lab]
        check_delivery(record, pairs)
        assert record["params"]["vswitch"] == vswitch
        assert "igb" in str(record["versions"][vswitch]), record["versions"]
        assert record["host"]["kernel"] == iommu.ssh("uname -r").stdout.strip()
        check_counters(record, vswitch, lab)

    from icperf_analysis.cli import main

    out = tmp / "report"
    assert main([str(results), "--out", str(out), "--no-figures", *ANALYSIS_WINDOW]) == 0
    table = pd.read_csv(out / "summary.csv")
    assert set(table["vswitch"]) == {vswitch}
    assert (table["t_pps"] > 0).all(), table
    # Nothing of a test is left on the guest: no VF in a namespace or container.
    assert iommu.ssh("lxc-ls -1; ip netns list").stdout.strip() == ""


def vf_drivers(guest: Guest) -> list[str]:
    out = guest.ssh(f"for vf in /sys/bus/pci/devices/{PF}/virtfn*; do "
                    "basename $(readlink $vf/driver); done").stdout  # fmt: skip
    return out.split()


def test_vfs_come_back_after_a_reboot_and_with_reprovision(
    iommu: Guest, inventory: Path, tmp_path: Path
) -> None:
    """The VFs the test sets left (role sriov, through vswitch_sriov's install) come back
    at boot through icperf-sriov.service; a PF left without them (a kernel whose VF driver
    failed, a unit disabled) gets them again from reprovision.yml, and a second run changes
    nothing."""
    guest = iommu
    assert guest.read(f"/sys/bus/pci/devices/{PF}/sriov_numvfs").strip() == "4"
    TIMINGS["sriov test set guest reboot (s)"] = guest.reboot()
    assert guest.read(f"/sys/bus/pci/devices/{PF}/sriov_numvfs").strip() == "4"
    assert vf_drivers(guest) == ["igbvf"] * 4
    unit = guest.ssh("systemctl show -p ActiveState -p Result icperf-sriov.service").stdout
    assert "ActiveState=active" in unit and "Result=success" in unit, unit

    guest.ssh("systemctl disable --now icperf-sriov.service; "
              f"echo 0 > /sys/bus/pci/devices/{PF}/sriov_numvfs")  # fmt: skip
    # The kernel command line is not this test's (the harness's guest needs no argument).
    extravars = {"reprovision_kernel_cmdline": False}
    run = run_playbook(tmp_path, inventory, "reprovision.yml", extravars)
    TIMINGS.setdefault("reprovision.yml re-creating the VFs (s)", []).append(run.seconds)
    assert run.rc == 0, run.failure_messages() or run.stdout[-4000:]
    assert guest.read(f"/sys/bus/pci/devices/{PF}/sriov_numvfs").strip() == "4"
    assert vf_drivers(guest) == ["igbvf"] * 4
    assert guest.ssh("systemctl is-enabled icperf-sriov.service").stdout.strip() == "enabled"
    (report,) = run.results("Report what reprovisioning did")
    assert f"SR-IOV: VFs created again on {PF}; VFs per PF {PF}: 4" in report["msg"], report
    record = json.loads(guest.read("/var/lib/icperf/reprovision.json"))
    assert record["sriov_pfs"] == [PF]

    again = run_playbook(tmp_path, inventory, "reprovision.yml", extravars)
    TIMINGS["reprovision.yml re-creating the VFs (s)"].append(again.seconds)
    assert again.rc == 0 and again.changed() == 0, again.stdout[-4000:]
    (report,) = again.results("Report what reprovisioning did")
    assert f"SR-IOV: VFs per PF {PF}: 4" in report["msg"], report
