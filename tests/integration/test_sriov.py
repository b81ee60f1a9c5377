"""vswitch=sriov and sriov-kernel against a host without SR-IOV NICs: the first play refuses,
naming the variable, with the sriov_vfs module reading the host's real sysfs; nothing on the
host changes. (The switch itself runs in a guest host: tests/guests/.)"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOST_TEST_MARKS, LABS, base_vars, host_state, run_playbook

pytestmark = HOST_TEST_MARKS


def _pci_netdev() -> tuple[str, str] | None:
    """A network interface of this host on a PCI function without SR-IOV, and its address."""
    for name in sorted(os.listdir("/sys/class/net")):
        path = os.path.realpath(f"/sys/class/net/{name}/device")
        while path != "/" and not re.match(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d$",
                                            os.path.basename(path)):  # fmt: skip
            path = os.path.dirname(path)
        if path != "/" and not os.path.exists(f"{path}/sriov_totalvfs"):
            return name, os.path.basename(path)
    return None


def _refusal(run: Any) -> list[str]:
    return [str(f["event_data"].get("res", {}).get("msg", "")) for f in run.failures()]


CASES = [
    ("sriov", None, r"^sriov_pfs: no SR-IOV NIC is configured for localhost"),
    ("sriov-kernel", None, r"^sriov_pfs: no SR-IOV NIC is configured for localhost"),
    ("sriov", [{"pf": "icpl-nonic", "num_vfs": 2}],
     r"^sriov_pfs\[0\]\.pf: 'icpl-nonic' is neither a network interface nor a PCI device"),
    ("sriov", [{"pf": "lo", "num_vfs": 2}],
     r"^sriov_pfs\[0\]\.pf: lo is a network interface without a PCI device"),
    ("sriov-kernel", "pci-netdev", r"^sriov_pfs\[0\]\.pf: {name} \({address}, [\w-]+\) has no "
     r"SR-IOV capability"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("vswitch", "pfs", "message"),
    CASES,
    ids=["sriov-unset", "sriov-kernel-unset", "no-such-pf", "virtual-pf", "no-sriov-capability"],
)
def test_a_host_without_the_sriov_nics_asked_is_refused_first(
    tmp_path: Path, clean_host: dict[str, Any], vswitch: str, pfs: Any, message: str
) -> None:
    extravars = base_vars(tmp_path, vswitch=vswitch, labs=[str(LABS / "icpl-vf.yml")])
    if pfs == "pci-netdev":
        found = _pci_netdev()
        if found is None:
            pytest.skip("this host has no network interface on a PCI function")
        name, address = found
        pfs = [{"pf": name, "num_vfs": 1}]
        message = message.format(name=re.escape(name), address=re.escape(address))
    if pfs is not None:
        extravars["sriov_pfs"] = pfs

    run = run_playbook(tmp_path, "testset.yml", extravars)

    assert run.rc != 0
    assert run.plays() == ["Check the test set"], run.stdout[-3000:]
    messages = _refusal(run)
    assert any(re.search(message, text) for text in messages), messages
    assert host_state() == clean_host
    assert not (tmp_path / "results").exists()


def test_reprovision_checks_the_sriov_nics_before_any_change(
    tmp_path: Path, clean_host: dict[str, Any]
) -> None:
    """reprovision.yml creates the VFs of sriov_pfs again (role sriov): on a host without
    the PF asked it stops in its checks, naming the variable, before anything changed and
    without recording a provisioning."""
    record = tmp_path / "reprovision.json"
    extravars = {
        "sriov_pfs": [{"pf": "0000:7f:1f.7", "num_vfs": 2}],
        "reprovision_state_file": str(record),
        # The kernel command line is not this test's: the CI machine has no GRUB.
        "reprovision_kernel_cmdline": False,
    }

    run = run_playbook(tmp_path, "reprovision.yml", extravars)

    assert run.rc != 0
    messages = _refusal(run)
    assert any(
        re.search(r"^sriov_pfs\[0\]\.pf: this host has no PCI device 0000:7f:1f\.7", text)
        for text in messages
    ), messages
    # Refused in the checks: no DKMS module looked for, nothing created, nothing recorded.
    tasks = [e["event_data"].get("task") for e in run.events if e.get("event") == "runner_on_ok"]
    assert "Find the DKMS modules the running kernel lacks" not in tasks
    assert not record.exists()
    assert host_state() == clean_host
