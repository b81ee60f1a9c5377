"""The guest host itself: reachable by Ansible over SSH, booted through GRUB, and cut off."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SYSTEM_MARKS, run_playbook
from .harness import GuestPool

pytestmark = SYSTEM_MARKS


def test_ansible_reaches_the_guest_through_the_written_inventory(
    guest_pool: GuestPool, tmp_path: Path
) -> None:
    run = run_playbook(tmp_path, guest_pool.inventory, "tests/guests/playbooks/facts.yml", {})

    assert run.rc == 0, run.stdout[-3000:]
    guest = guest_pool.guests[0]
    facts = run.results("Read the facts")[0]["ansible_facts"]
    assert facts["ansible_distribution"] == "Debian"
    assert facts["ansible_distribution_major_version"] == "12"
    assert facts["ansible_service_mgr"] == "systemd"
    assert facts["ansible_processor_vcpus"] == 1
    # The image's kernel, booted by the image's GRUB (BOOT_IMAGE is GRUB's).
    cmdline = guest.read("/proc/cmdline")
    assert f"BOOT_IMAGE=/boot/vmlinuz-{guest_pool.image.info['kernel']}" in cmdline
    assert facts["ansible_kernel"] == guest_pool.image.info["kernel"]


@pytest.mark.parametrize("target", ["10.0.2.2/22", "1.1.1.1/53", "151.101.2.132/80"])
def test_the_guest_reaches_nothing_outside(guest_pool: GuestPool, target: str) -> None:
    """QEMU's user network runs with restrict=on: no connection leaves the guest."""
    guest = guest_pool.guests[0]
    probe = guest.ssh(f"timeout 5 bash -c 'exec 3<>/dev/tcp/{target}'", check=False)
    assert probe.returncode != 0, f"{target} reachable from the guest"
    # The same probe to the guest's own sshd connects: the probe itself works.
    local = guest.ssh("timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/22'", check=False)
    assert local.returncode == 0, local.stderr
