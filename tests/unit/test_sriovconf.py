"""sriovconf.vfs_for_test: each container on its VF, its MAC over the lab's VF settings."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.sriovconf import vf_settings, vfs_for_test

PF = "0000:01:00.0"
VFS = [
    {"pf": PF, "index": 0, "pci": "0000:01:10.0", "netdev": "enp1s16"},
    {"pf": PF, "index": 1, "pci": "0000:01:10.2", "netdev": "enp1s16f2"},
    {"pf": PF, "index": 2, "pci": "0000:01:10.4", "netdev": ""},
]
CHECKED = [{"pf": {"address": PF}, "vfs": VFS}]
SRIOV_PFS = [{"pf": "enp1s0", "num_vfs": 3,
              "vfs": [{"index": 0, "spoofchk": True, "mac": "02:00:00:00:09:00"},
                      {"index": 2, "trust": True}]}]  # fmt: skip


def container(name: str, mac: str, **vf: Any) -> dict[str, Any]:
    return {"name": name, "mac": mac, "vf": None, "vf_pci": None, **vf}


def test_containers_get_their_vfs_and_macs_over_the_lab_settings() -> None:
    containers = [container("icp0", "02:00:00:00:00:0a", vf_pci="0000:01:10.2"),
                  container("icp1", "02:00:00:00:00:0b", vf="enp1s16")]  # fmt: skip
    planned = vfs_for_test(containers, CHECKED, SRIOV_PFS, "vfio-pci")
    assert planned["pfs"] == [{
        "pf": "enp1s0", "num_vfs": 3, "vf_driver": "vfio-pci",
        "vfs": [{"index": 0, "spoofchk": True, "mac": "02:00:00:00:00:0b"},
                {"index": 1, "mac": "02:00:00:00:00:0a"},
                {"index": 2, "trust": True}],
    }]  # fmt: skip
    assert planned["containers"] == [
        {"name": "icp0", "pf": PF, "index": 1, "pci": "0000:01:10.2", "netdev": "enp1s16f2"},
        {"name": "icp1", "pf": PF, "index": 0, "pci": "0000:01:10.0", "netdev": "enp1s16"},
    ]
    # The lab's own settings are left as they were.
    assert SRIOV_PFS[0]["vfs"][0]["mac"] == "02:00:00:00:09:00"


@pytest.mark.parametrize(
    ("containers", "message"),
    [
        ([container("icp0", "02:00:00:00:00:0a", vf_pci="0000:01:10.1")],
         r"^icperf_vswitch_ports\[0\]\.vf_pci: icp0's VF 0000:01:10.1 is not a VF of the PFs "
         r"in sriov_pfs \(their VFs: 0000:01:10.0 \(enp1s16\), 0000:01:10.2 \(enp1s16f2\), "
         r"0000:01:10.4\)"),
        ([container("icp0", "02:00:00:00:00:0a", vf="eth7")],
         r"^icperf_vswitch_ports\[0\]\.vf: icp0's VF eth7 is not a VF interface"),
        ([container("icp0", "02:00:00:00:00:0a")],
         r"^icperf_vswitch_ports\[0\]\.vf_pci: icp0 names no VF"),
        ([container("icp0", "02:00:00:00:00:0a", vf_pci="0000:01:10.0"),
          container("icp1", "02:00:00:00:00:0b", vf="enp1s16")],
         r"^icperf_vswitch_ports\[1\]: icp1 and icp0 both name VF 0000:01:10.0"),
    ],
)  # fmt: skip
def test_a_container_without_a_vf_of_the_pfs_is_refused(
    containers: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(IcperfInputError, match=message):
        vfs_for_test(containers, CHECKED, SRIOV_PFS)


def test_the_first_play_checks_the_vf_pci_addresses_only() -> None:
    containers = [container("icp0", "02:00:00:00:00:0a", vf="enp9s16"),
                  container("icp1", "02:00:00:00:00:0b", vf_pci="0000:01:10.6")]  # fmt: skip
    with pytest.raises(IcperfInputError, match=r"^containers\[1\]\.vf_pci: icp1's VF 0000:01:10"):
        vfs_for_test(containers, CHECKED, SRIOV_PFS, field="containers", pci_only=True)
    containers[1]["vf_pci"] = "0000:01:10.4"
    planned = vfs_for_test(containers, CHECKED, SRIOV_PFS, field="containers", pci_only=True)
    assert [c["name"] for c in planned["containers"]] == ["icp1"]


def test_vf_settings_as_the_module_takes_them() -> None:
    reported = [
        {"pf": PF, "index": 0, "pci": "0000:01:10.0", "netdev": "", "driver": "vfio-pci",
         "mac": "02:00:00:00:00:0a", "trust": False, "spoofchk": True},
        {"pf": PF, "index": 1, "pci": "0000:01:10.2", "netdev": "enp1s16f2", "driver": "igbvf",
         "mac": "00:00:00:00:00:00", "trust": True, "spoofchk": False},
    ]  # fmt: skip
    assert vf_settings(reported) == [
        {"index": 0, "trust": False, "spoofchk": True, "mac": "02:00:00:00:00:0a"},
        {"index": 1, "trust": True, "spoofchk": False},
    ]
