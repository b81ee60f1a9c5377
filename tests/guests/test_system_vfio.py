"""vfio role on a guest host: the lab's igb NICs given to DPDK and back, with the IOMMU on.

The guest has two emulated igb NICs wired to each other (harness lab NICs). The tests run in
order on the session's guest, after the kernel_cmdline tests turned its IOMMU on: bad input
first (nothing may change), the binding (dpdk-testpmd then moves packets between the NICs),
the same run again (nothing changes), the saved override applied when the device appears as
at boot, the NICs given back to igb.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import SYSTEM_MARKS, TIMINGS, assert_refused, run_playbook, run_testpmd
from .harness import Guest, GuestPool

pytestmark = SYSTEM_MARKS

PLAYBOOK = "tests/guests/playbooks/vfio.yml"
STATE_FILE = "/var/lib/icperf/vfio.json"


@pytest.fixture(scope="module")
def guest(iommu_on: Guest) -> Guest:
    return iommu_on


def driver(guest: Guest, address: str) -> str:
    return guest.ssh(
        f'basename "$(readlink /sys/bus/pci/devices/{address}/driver)" 2>/dev/null || true'
    ).stdout.strip()


def vfio_state(guest: Guest, nics: list[str]) -> str:
    """What the role may change: drivers, overrides (live and saved), its state, modules."""
    checks = " ".join(
        f"echo {nic}; readlink /sys/bus/pci/devices/{nic}/driver; "
        f"cat /sys/bus/pci/devices/{nic}/driver_override;"
        for nic in nics
    )
    return guest.ssh(
        f"{checks} ls /etc/driverctl.d 2>/dev/null; cat {STATE_FILE} 2>/dev/null; "
        "grep -E '^(vfio|vfio_pci|igb_uio) ' /proc/modules | cut -d' ' -f1 | sort; true"
    ).stdout


def test_the_lab_nics_are_the_harness_igbs(guest: Guest, nics: list[str]) -> None:
    """The inventory's addresses are the NICs the harness added (their MACs), on igb."""
    for index, nic in enumerate(nics):
        assert driver(guest, nic) == "igb"
        mac = guest.ssh(f"cat /sys/bus/pci/devices/{nic}/net/*/address").stdout.strip()
        assert mac == guest.lab_nic_mac(index)
        assert guest.ssh(f"readlink /sys/bus/pci/devices/{nic}/iommu_group").stdout.strip()


@pytest.mark.parametrize(
    ("extravars", "message"),
    [
        ({"vfio_devices": ["0000:07:00.0"]},
         "vfio_devices: 0000:07:00.0 is not a PCI device of this host (its network devices: "
         "0000:00:01.0 (virtio-pci), 0000:01:00.0 (igb), 0000:02:00.0 (igb))"),
        ({"vfio_devices": ["01:00"]}, "vfio_devices: '01:00' is not a PCI address"),
        # The guest's own connection (the virtio NIC SSH comes through).
        ({"vfio_devices": ["0000:00:01.0"]},
         "vfio_devices: 0000:00:01.0 is enp0s1, which carries IPv4 routes"),
        ({"vfio_devices": ["0000:01:00.0"], "vfio_driver": "vfio"},
         "value of vfio_driver must be one of: vfio-pci, uio_pci_generic, igb_uio, got: vfio"),
    ],
    ids=["absent-address", "malformed", "own-connection", "driver"],
)  # fmt: skip
def test_bad_input_is_refused_before_any_change(
    guest: Guest,
    guest_pool: GuestPool,
    nics: list[str],
    tmp_path: Path,
    extravars: dict[str, Any],
    message: str,
) -> None:
    run = assert_refused(
        tmp_path, guest_pool, PLAYBOOK, extravars, message,
        lambda: vfio_state(guest, nics), "vfio refused run (s)",
    )  # fmt: skip
    assert not run.ran("Bind the devices to vfio-pci")


def test_role_binds_the_nics_and_testpmd_moves_packets_through_them(
    guest: Guest, guest_pool: GuestPool, nics: list[str], tmp_path: Path
) -> None:
    run = run_playbook(tmp_path, guest_pool.inventory, PLAYBOOK, {"vfio_devices": nics})

    assert run.rc == 0, run.stdout[-4000:]
    TIMINGS["vfio bind run (s)"] = run.seconds
    assert run.changed() > 0
    groups = []
    for nic in nics:
        assert driver(guest, nic) == "vfio-pci"
        assert guest.read(f"/etc/driverctl.d/pci-{nic}").strip() == "vfio-pci"
        group = guest.ssh(f"basename $(readlink /sys/bus/pci/devices/{nic}/iommu_group)")
        groups.append(group.stdout.strip())
    # vfio's device files, one per IOMMU group; the old driver is remembered.
    assert guest.ssh("ls /dev/vfio").stdout.split() == sorted([*groups, "vfio"])
    remembered = guest.read(STATE_FILE)
    assert all(f'"{nic}"' in remembered for nic in nics) and '"driver": "igb"' in remembered

    start = time.monotonic()
    output, ports = run_testpmd(guest, nics)
    TIMINGS["testpmd on the vfio NICs (s)"] = round(time.monotonic() - start, 1)

    assert "Using IOMMU type 1" in output, output[-3000:]
    for index in range(len(nics)):
        assert f"Port {index}: {guest.lab_nic_mac(index).upper()}" in output, output[-3000:]
    # Each NIC received what the other sent, forwarded back: both directions, both ports.
    assert sorted(ports) == [0, 1], output[-3000:]
    for port, counts in ports.items():
        assert counts["RX-packets"] > 0 and counts["TX-packets"] > 0, (port, counts)


def test_second_run_changes_nothing(
    guest: Guest, guest_pool: GuestPool, nics: list[str], tmp_path: Path
) -> None:
    before = vfio_state(guest, nics)

    run = run_playbook(tmp_path, guest_pool.inventory, PLAYBOOK, {"vfio_devices": nics})

    assert run.rc == 0, run.stdout[-4000:]
    TIMINGS["vfio second run (s)"] = run.seconds
    assert run.changed() == 0, run.stdout[-4000:]
    assert vfio_state(guest, nics) == before


def test_saved_override_takes_the_nic_when_it_appears_as_at_boot(
    guest: Guest, nics: list[str]
) -> None:
    """The device removed and found again: igb (loaded) claims it first, as at boot, and
    driverctl's udev rule gives it to vfio-pci (the path every boot takes)."""
    nic = nics[0]
    guest.ssh(f"echo 1 > /sys/bus/pci/devices/{nic}/remove; echo 1 > /sys/bus/pci/rescan")
    deadline = time.monotonic() + 60
    while driver(guest, nic) != "vfio-pci" and time.monotonic() < deadline:
        time.sleep(1)

    assert driver(guest, nic) == "vfio-pci"
    journal = guest.ssh(f"systemctl show -p ActiveState driverctl@pci-{nic}.service").stdout
    assert "ActiveState=active" in journal


def test_restore_gives_the_nics_back_to_igb(
    guest: Guest, guest_pool: GuestPool, nics: list[str], tmp_path: Path
) -> None:
    run = run_playbook(tmp_path, guest_pool.inventory, PLAYBOOK, {"vfio_entry": "restore"})

    assert run.rc == 0, run.stdout[-4000:]
    TIMINGS["vfio restore run (s)"] = run.seconds
    for index, nic in enumerate(nics):
        assert driver(guest, nic) == "igb"
        mac = guest.ssh(f"cat /sys/bus/pci/devices/{nic}/net/*/address").stdout.strip()
        assert mac == guest.lab_nic_mac(index)
    assert guest.ssh("ls /etc/driverctl.d").stdout.split() == []
    assert '"devices": {}' in guest.read(STATE_FILE)

    again = run_playbook(tmp_path, guest_pool.inventory, PLAYBOOK, {"vfio_entry": "restore"})
    assert again.rc == 0 and again.changed() == 0, again.stdout[-4000:]


def test_verify_names_the_devices_not_bound(
    guest: Guest, guest_pool: GuestPool, nics: list[str], tmp_path: Path
) -> None:
    before = vfio_state(guest, nics)

    run = run_playbook(
        tmp_path, guest_pool.inventory, PLAYBOOK, {"vfio_devices": nics, "vfio_entry": "verify"}
    )

    assert run.rc != 0
    messages = " ".join(run.failure_messages())
    assert f"vfio_devices: {nics[0]} is bound to igb, {nics[1]} is bound to igb" in messages
    assert vfio_state(guest, nics) == before
