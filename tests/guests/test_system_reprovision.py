"""reprovision.yml on a guest host: a kernel upgrade from bookworm-backports, then everything
that depends on the kernel provisioned again and re-verified.

The tests run in order on the session's guest (its IOMMU on, from the kernel_cmdline tests):
bad input first (nothing may change; the command line's own refusals are the kernel_cmdline
tests'), a first reprovisioning on the image's kernel (it
records that kernel, loads igb_uio, binds the lab NICs to vfio-pci), a run asking for
another command line (refused: reprovisioning re-applies what was provisioned), then the
upgrade: bookworm-backports' cloud kernel installed with apt from the image's local
repository, a reboot into it through GRUB, and reprovision.yml, which must find the new
kernel, install its headers, have igb_uio rebuilt by DKMS and loaded, and re-verify the
command line and the vfio binding (testpmd moves packets again); a second run changes
nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    CMDLINE_ARGS,
    CMDLINE_LAB,
    SYSTEM_MARKS,
    TIMINGS,
    PlaybookRun,
    assert_refused,
    run_playbook,
    run_testpmd,
)
from .harness import Guest, GuestPool

pytestmark = SYSTEM_MARKS

PLAYBOOK = "reprovision.yml"
RECORD = "/var/lib/icperf/reprovision.json"
DROPIN = "/etc/default/grub.d/icperf.cfg"
# The upgrade: bookworm-backports' cloud flavour (a third of the generic kernel's modules,
# so a third of the time under TCG), from the image's local apt repository.
UPGRADE_PACKAGE = "linux-image-cloud-amd64"
DKMS_MODULE = "dpdk-kmods"
REBOOT_TASK = "Reboot into the new command line"
REPORT_TASK = "Report what reprovisioning did"
HOST_FACTS_PLAYBOOK = "tests/guests/playbooks/host_facts.yml"
HOST_FACTS_TASK = "Keep the host's facts and versions"


@pytest.fixture(scope="module")
def guest(iommu_on: Guest) -> Guest:
    return iommu_on


@pytest.fixture(scope="module")
def lab(nics: list[str]) -> dict[str, Any]:
    """The host's provisioning variables, as an inventory would hold them."""
    return {
        **CMDLINE_LAB,
        "vfio_devices": nics,
        "reprovision_dkms_modules": [DKMS_MODULE],
        "reprovision_load_modules": ["igb_uio"],
    }


def report(run: PlaybookRun) -> list[str]:
    return run.results(REPORT_TASK)[0]["msg"]


def host_facts(run: PlaybookRun) -> dict[str, Any]:
    """icperf_host_facts as playbooks/tasks/host_facts.yml set them."""
    return run.results(HOST_FACTS_TASK)[0]["ansible_facts"]["icperf_host_facts"]


def host_state(guest: Guest) -> str:
    """What reprovisioning may change."""
    return guest.ssh(
        f"cat /proc/sys/kernel/random/boot_id; cat {DROPIN}; sha256sum /boot/grub/grub.cfg; "
        f"cat {RECORD} 2>/dev/null; ls /etc/driverctl.d /etc/modules-load.d; "
        # DKMS's tree and what it installed ('dkms status' takes seconds under TCG).
        "ls -R /var/lib/dkms/dpdk-kmods /lib/modules/*/updates 2>/dev/null; "
        "grep -E '^(vfio_pci|igb_uio) ' /proc/modules | cut -d' ' -f1 | sort; "
        "for d in /sys/bus/pci/devices/*/driver; do echo $d $(readlink $d); done; true"
    ).stdout


def kernel_of_module(guest: Guest, module: str) -> str:
    """The kernel release a loaded module was built for (its vermagic's first word)."""
    return guest.ssh(f"modinfo -F vermagic {module}").stdout.split()[0]


@pytest.mark.parametrize(
    ("extravars", "message"),
    [
        ({"vfio_devices": ["0000:07:00.0"]},
         "vfio_devices: 0000:07:00.0 is not a PCI device of this host"),
        ({"reprovision_dkms_modules": ["dpdk-kmodz"]},
         "reprovision_dkms_modules: dpdk-kmodz is not a DKMS module of this host (DKMS knows "
         "dpdk-kmods)"),
        # Another command line asked: a reboot is due, after which the IOMMU groups may
        # only appear; the devices must exist before anything changes all the same.
        ({"vfio_devices": ["0000:07:00.0"], "kernel_cmdline_hugepages_2m": 32},
         "vfio_devices: 0000:07:00.0 is not a PCI device of this host"),
    ],
    ids=["absent-address", "unknown-dkms-module", "absent-address-reboot-due"],
)  # fmt: skip
def test_bad_input_is_refused_before_any_change(
    guest: Guest,
    guest_pool: GuestPool,
    lab: dict[str, Any],
    tmp_path: Path,
    extravars: dict[str, Any],
    message: str,
) -> None:
    assert_refused(
        tmp_path, guest_pool, PLAYBOOK, {**lab, **extravars}, message,
        lambda: host_state(guest), "reprovision refused run (s)",
    )  # fmt: skip


def test_first_reprovisioning_records_the_image_kernel(
    guest: Guest, guest_pool: GuestPool, nics: list[str], lab: dict[str, Any], tmp_path: Path
) -> None:
    kernel = guest_pool.image.info["kernel"] if guest_pool.image else "?"

    run = run_playbook(tmp_path, guest_pool.inventory, PLAYBOOK, lab)

    assert run.rc == 0, run.stdout[-4000:]
    TIMINGS["reprovision on the image's kernel (s)"] = run.seconds
    lines = report(run)
    assert lines[0] == f"kernel {kernel}: no earlier provisioning recorded", lines
    assert lines[1] == f"command line: verified in /proc/cmdline: {' '.join(CMDLINE_ARGS)}"
    assert lines[2] == f"DKMS: {DKMS_MODULE}/0~20220829+git already installed for {kernel}"
    assert lines[3] == "modules: loaded igb_uio", lines
    assert lines[4] == f"vfio: bound {', '.join(nics)}", lines
    assert not run.ran(REBOOT_TASK)
    record = json.loads(guest.read(RECORD))
    assert record["kernel"] == kernel
    assert record["cmdline_args"] == CMDLINE_ARGS
    assert record["cmdline"] == guest.read("/proc/cmdline").strip()
    assert record["vfio_devices"] == nics
    assert kernel_of_module(guest, "igb_uio") == kernel
    assert guest.read("/etc/modules-load.d/igb_uio.conf").split() == ["igb_uio"]


def test_another_command_line_is_refused(
    guest: Guest, guest_pool: GuestPool, lab: dict[str, Any], tmp_path: Path
) -> None:
    """Reprovisioning re-applies what was provisioned; a different command line is refused."""
    before = host_state(guest)

    run = run_playbook(
        tmp_path, guest_pool.inventory, PLAYBOOK, {**lab, "kernel_cmdline_hugepages_2m": 32}
    )

    assert run.rc != 0
    messages = " ".join(run.failure_messages())
    assert (
        "kernel_cmdline_*: these variables give [hugepagesz=1G hugepages=1 hugepagesz=2M "
        "hugepages=32 intel_iommu=on iommu=pt], but guest0 was provisioned with "
        f"[{' '.join(CMDLINE_ARGS)}]"
    ) in messages, messages
    assert host_state(guest) == before


def test_kernel_upgrade_then_reprovision_rebuilds_and_reverifies(
    guest: Guest, guest_pool: GuestPool, nics: list[str], lab: dict[str, Any], tmp_path: Path
) -> None:
    old_kernel = guest.ssh("uname -r").stdout.strip()

    # The upgrade, as a user makes it: apt from the host's mirror (here the image's local
    # repository), the kernel's hooks (initramfs, update-grub with icperf's drop-in), reboot.
    start = time.monotonic()
    guest.ssh(
        f"export DEBIAN_FRONTEND=noninteractive; apt-get update -q && "
        f"apt-get install -y -q {UPGRADE_PACKAGE}",
        timeout=1500,
    )
    TIMINGS["kernel upgrade: apt-get install (s)"] = round(time.monotonic() - start, 1)
    new_kernel = guest.ssh(
        "dpkg-query -W -f '${Depends}' " + UPGRADE_PACKAGE + " | sed 's/linux-image-//; s/ .*//'"
    ).stdout.strip()
    assert new_kernel and new_kernel != old_kernel
    # update-grub put the new kernel first, with icperf's arguments.
    first_linux = next(
        line.split()
        for line in guest.read("/boot/grub/grub.cfg").splitlines()
        if line.split()[:1] == ["linux"]
    )
    assert first_linux[1] == f"/boot/vmlinuz-{new_kernel}"
    assert first_linux[-len(CMDLINE_ARGS) :] == CMDLINE_ARGS

    TIMINGS["kernel upgrade: reboot (s)"] = round(guest.reboot(), 1)

    # What the new kernel has before reprovisioning: the command line (GRUB), the vfio
    # binding (driverctl's saved overrides), but no igb_uio: DKMS built it for the old one.
    assert guest.ssh("uname -r").stdout.strip() == new_kernel
    assert guest.read("/proc/cmdline").split()[-len(CMDLINE_ARGS) :] == CMDLINE_ARGS
    for nic in nics:
        assert (
            guest.ssh(f"readlink /sys/bus/pci/devices/{nic}/driver")
            .stdout.strip()
            .endswith("/vfio-pci")
        )
    assert guest.ssh("modprobe igb_uio", check=False).returncode != 0
    assert "installed" not in guest.ssh(f"dkms status -k {new_kernel}").stdout

    run = run_playbook(tmp_path, guest_pool.inventory, PLAYBOOK, lab)

    assert run.rc == 0, run.stdout[-4000:]
    TIMINGS["reprovision after the upgrade (s)"] = run.seconds
    lines = report(run)
    assert lines[0] == (
        f"kernel changed from {old_kernel} to {new_kernel} since the last provisioning"
    ), lines
    assert lines[1] == f"command line: verified in /proc/cmdline: {' '.join(CMDLINE_ARGS)}"
    assert lines[2] == (
        f"DKMS: rebuilt {DKMS_MODULE}/0~20220829+git for {new_kernel} "
        f"(installed linux-headers-{new_kernel})"
    ), lines
    assert lines[3] == "modules: loaded igb_uio", lines
    assert lines[4] == f"vfio: {', '.join(nics)} already bound", lines
    assert not run.ran(REBOOT_TASK)
    # Re-verified on the host itself.
    assert (
        f"{DKMS_MODULE}/0~20220829+git, {new_kernel}, x86_64: installed"
        in guest.ssh(f"dkms status -k {new_kernel}").stdout
    )
    assert guest.ssh("test -d /sys/module/igb_uio", check=False).returncode == 0
    assert kernel_of_module(guest, "igb_uio") == new_kernel
    pages = "/sys/kernel/mm/hugepages/hugepages-{}kB/nr_hugepages"
    assert guest.read(pages.format(1048576)).strip() == "1"
    assert guest.read(pages.format(2048)).strip() == "64"
    assert guest.ssh("ls /sys/class/iommu").stdout.split() == ["dmar0"]
    record = json.loads(guest.read(RECORD))
    assert record["kernel"] == new_kernel
    assert record["dkms"] == [f"{DKMS_MODULE}/0~20220829+git"]
    # The vfio NICs work on the new kernel.
    output, ports = run_testpmd(guest, nics)
    assert sorted(ports) == [0, 1], output[-3000:]
    for port, counts in ports.items():
        assert counts["RX-packets"] > 0 and counts["TX-packets"] > 0, (port, counts)


def test_second_reprovisioning_changes_nothing(
    guest: Guest, guest_pool: GuestPool, lab: dict[str, Any], tmp_path: Path
) -> None:
    before = host_state(guest)
    kernel = guest.ssh("uname -r").stdout.strip()

    run = run_playbook(tmp_path, guest_pool.inventory, PLAYBOOK, lab)

    assert run.rc == 0, run.stdout[-4000:]
    TIMINGS["reprovision second run (s)"] = run.seconds
    assert run.changed() == 0, run.stdout[-4000:]
    assert not run.ran(REBOOT_TASK)
    lines = report(run)
    assert lines[0] == f"kernel {kernel}: unchanged since the last provisioning"
    assert lines[3] == "modules: igb_uio already loaded"
    assert host_state(guest) == before


def test_host_facts_carry_the_verified_command_line(
    guest: Guest, guest_pool: GuestPool, tmp_path: Path
) -> None:
    """What test.json records as host: the command line reprovisioning verified, the running
    kernel's; none without a record of it."""
    cmdline = guest.read("/proc/cmdline").strip()

    run = run_playbook(tmp_path, guest_pool.inventory, HOST_FACTS_PLAYBOOK, {})
    unrecorded = run_playbook(
        tmp_path, guest_pool.inventory, HOST_FACTS_PLAYBOOK,
        {"reprovision_state_file": "/var/lib/icperf/none.json"},
    )  # fmt: skip

    assert run.rc == 0 and unrecorded.rc == 0, run.stdout[-4000:] + unrecorded.stdout[-4000:]
    facts = host_facts(run)
    assert facts["cmdline_verified"] == cmdline == facts["cmdline"]
    assert all(arg in cmdline.split() for arg in CMDLINE_ARGS)
    assert facts["kernel"] == guest.ssh("uname -r").stdout.strip()
    assert facts["hostname"] == "icperf-guest"
    assert host_facts(unrecorded)["cmdline_verified"] == ""
    assert host_facts(unrecorded)["cmdline"] == cmdline
