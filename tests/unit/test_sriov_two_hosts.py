"""SR-IOV across two hosts: the containers on VFs of the NIC cabled to the other host.

Each host's plan gives a container whose peer is on the other host, and whose lab names no
VF, the next VF of the wire NIC's PF (read from sriov_pfs before the VFs exist); the
switch role refuses a remote container on a VF of another PF, and a wire NIC that is not
one of sriov_pfs, naming the variables; the wire NIC's port counters count the VFs' frames.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.icperf.lab.plugins.module_utils import matrix, plan, vswitches
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.sriovconf import (
    vfs_for_test,
    wire_pf,
    wire_ports,
)
from ansible_collections.icperf.lab.plugins.modules.lxc_test import ContainerSet

HOSTS = ["lab1", "lab2"]
WIRE = "0000:01:00.0"
OTHER = "0000:02:00.0"
WIRE_VFS = ["0000:01:10.0", "0000:01:10.2", "0000:01:10.4"]
# The sriov_vfs module's check-mode results for sriov_pfs: the wire NIC second, its VFs
# out of index order (the module reports them by index; the filter must not rely on it).
CHECKED = [
    {"pf": {"address": OTHER, "netdev": "enp2s0"},
     "vfs": [{"pf": OTHER, "index": 0, "pci": "0000:02:10.0", "netdev": ""}]},
    {"pf": {"address": WIRE, "netdev": "enp1s0"},
     "vfs": [{"pf": WIRE, "index": i, "pci": pci, "netdev": ""}
             for i, pci in reversed(list(enumerate(WIRE_VFS)))]},
]  # fmt: skip
SRIOV_PFS = [{"pf": "enp2s0", "num_vfs": 1}, {"pf": WIRE, "num_vfs": 3}]
ACROSS: dict[str, Any] = {"pairs": 2, "across_hosts": True}


def sweep(lab: str, vswitch: str) -> dict[str, Any]:
    return {"vswitches": [vswitch], "pkt_sizes": [64], "bursts": [32], "rates": [1000],
            "labs": [lab], "duration": 10}  # fmt: skip


def halves(path: str, lab: dict[str, Any], vswitch: str,
           ports: list[str] | None = WIRE_VFS) -> dict[str, dict[str, Any]]:  # fmt: skip
    params = sweep(path, vswitch)
    test = matrix.test_matrix(params, lab_hosts=HOSTS)[0]
    assert test["identity"]["hosts"] == "remote"
    host: dict[str, Any] = {"cores": "0-3", "reserved": [], "lab_hosts": HOSTS}
    if ports is not None:
        host["wire_ports"] = ports
    return {name: plan.plan_test(test, params, lab, {**host, "name": name}) for name in HOSTS}


# --- which PF: the wire NIC, found among sriov_pfs ---------------------------------------


@pytest.mark.parametrize("given", [WIRE, WIRE.upper(), "enp1s0"])
def test_the_wire_nic_is_found_among_the_pfs_by_address_or_interface(given: str) -> None:
    assert wire_pf(CHECKED, given)["pf"]["address"] == WIRE
    assert wire_ports(CHECKED, given) == WIRE_VFS


def test_a_wire_nic_that_is_not_one_of_sriov_pfs_is_refused_naming_both() -> None:
    with pytest.raises(
        IcperfInputError,
        match=r"^sriov_pfs: the NIC cabled to the other host \(icperf_wire_nic: "
        r"0000:03:00\.0\) is not one of the PFs listed \(0000:02:00\.0 \(enp2s0\), "
        r"0000:01:00\.0 \(enp1s0\)\); SR-IOV tests across two hosts put the containers on "
        r"VFs of that NIC, so list it in sriov_pfs",
    ):
        wire_ports(CHECKED, "0000:03:00.0")
    with pytest.raises(IcperfInputError, match=r"^icperf_wire_nic: names no NIC"):
        wire_ports(CHECKED, "")


# --- the plan: each host's remote containers on the wire NIC's VFs ----------------------


@pytest.mark.parametrize(
    ("vswitch", "attach"), [("sriov", "vf-pci"), ("sriov-kernel", "vf-netdev")]
)
def test_each_host_puts_its_remote_containers_on_the_wire_nics_vfs(
    write_lab: Any, vswitch: str, attach: str
) -> None:
    planned = halves(write_lab("across.yml", ACROSS), ACROSS, vswitch)
    for name, containers in (("lab1", ["icp0", "icp2"]), ("lab2", ["icp1", "icp3"])):
        got = planned[name]["containers"]
        assert [c["name"] for c in got] == containers
        # VF 0 and 1 of each host's own wire NIC, in the containers' order.
        assert [(c["vf_pci"], c["vf"], c["attach"]) for c in got] == [
            (WIRE_VFS[0], None, attach), (WIRE_VFS[1], None, attach),
        ]  # fmt: skip
        assert all(c["remote"] for c in got)
    if vswitch == "sriov":
        # The dpdk- applets open the VF the plan chose.
        sender = planned["lab1"]["containers"][0]
        assert sender["argv"][sender["argv"].index("-a") + 1] == WIRE_VFS[0]
        assert planned["lab1"]["record"]["apps"][0]["command"] == sender["argv"]


def test_a_vf_the_lab_names_is_kept_and_skipped_by_the_others(write_lab: Any) -> None:
    lab = {**ACROSS, "vf_pcis": [None, None, WIRE_VFS[0], None]}
    planned = halves(write_lab("named.yml", lab), lab, "sriov")
    # icp2 (lab1) named VF 0: icp0 takes the next; lab2 names none.
    assert [c["vf_pci"] for c in planned["lab1"]["containers"]] == [WIRE_VFS[1], WIRE_VFS[0]]
    assert [c["vf_pci"] for c in planned["lab2"]["containers"]] == WIRE_VFS[:2]


def test_a_wire_nic_without_enough_vfs_is_refused_naming_the_container(write_lab: Any) -> None:
    path = write_lab("across.yml", ACROSS)
    with pytest.raises(
        IcperfInputError,
        match=r"^containers\[2\]\.vf_pci: icp2 names no VF, and the NIC cabled to the other "
        r"host has none left for it \(sriov_pfs gives it 1, all named or taken\): give that "
        r"PF more VFs \(num_vfs\)$",
    ):
        halves(path, ACROSS, "sriov", WIRE_VFS[:1])


def test_without_the_wire_nics_vfs_a_remote_container_must_name_its_vf(write_lab: Any) -> None:
    path = write_lab("across.yml", ACROSS)
    with pytest.raises(
        IcperfInputError,
        match=r"^containers\[0\]\.vf_pci: required with vswitch sriov \(its containers attach "
        r"by vf-pci\); across two hosts the VFs of the NIC cabled to the other host are taken "
        r"when the lab names none",
    ):
        halves(path, ACROSS, "sriov", None)


def test_a_local_lab_still_names_its_vfs(write_lab: Any) -> None:
    lab = {"pairs": 1}
    params = sweep(write_lab("local.yml", lab), "sriov")
    test = matrix.test_matrix(params, lab_hosts=HOSTS)[0]
    host = {"cores": "0-3", "reserved": [], "lab_hosts": HOSTS, "name": "lab1",
            "wire_ports": WIRE_VFS}  # fmt: skip
    with pytest.raises(
        IcperfInputError, match=r"^containers\[0\]\.vf_pci: required with vswitch sriov \(its "
        r"containers attach by vf-pci\)$"
    ):
        plan.plan_test(test, params, lab, host)


@pytest.mark.parametrize("ports", ["0000:01:10.0", [1, 2]])
def test_wire_ports_must_be_pci_addresses(write_lab: Any, ports: object) -> None:
    params = sweep(write_lab("across.yml", ACROSS), "sriov")
    test = matrix.test_matrix(params, lab_hosts=HOSTS)[0]
    host = {"cores": "0-3", "lab_hosts": HOSTS, "name": "lab1", "wire_ports": ports}
    with pytest.raises(IcperfInputError, match=r"^host\.wire_ports: .* is not a list of PCI"):
        plan.plan_test(test, params, ACROSS, host)


# --- the switch role: a remote container must be on the wire NIC -----------------------


def container(name: str, vf_pci: str, remote: bool) -> dict[str, Any]:
    return {"name": name, "mac": "02:00:00:00:00:0a", "vf": None, "vf_pci": vf_pci,
            "remote": remote}  # fmt: skip


def test_a_remote_container_on_the_wire_nics_vf_gets_its_mac_there() -> None:
    planned = vfs_for_test([container("icp0", WIRE_VFS[0], True)], CHECKED, SRIOV_PFS,
                           "vfio-pci", wire_nic="enp1s0")  # fmt: skip
    assert planned["containers"] == [
        {"name": "icp0", "pf": WIRE, "index": 0, "pci": WIRE_VFS[0], "netdev": ""}
    ]
    assert planned["pfs"][1]["vfs"] == [{"index": 0, "mac": "02:00:00:00:00:0a"}]
    assert planned["pfs"][0]["vfs"] == []


def test_a_remote_container_on_another_pf_is_refused_naming_its_field() -> None:
    with pytest.raises(
        IcperfInputError,
        match=r"^lab x: containers\[0\]\.vf_pci: icp0's VF 0000:02:10\.0 is on PF "
        r"0000:02:00\.0, but its peer is on the other host, reached only through the NIC "
        r"cabled to it \(icperf_wire_nic: 0000:01:00\.0, PF 0000:01:00\.0\): name a VF of "
        r"that PF, or none$",
    ):
        vfs_for_test([container("icp0", "0000:02:10.0", True)], CHECKED, SRIOV_PFS,
                     field="lab x: containers", wire_nic=WIRE)  # fmt: skip
    # A container whose peer is on its own host may use any PF.
    local = vfs_for_test([container("icp0", "0000:02:10.0", False)], CHECKED, SRIOV_PFS,
                         wire_nic=WIRE)  # fmt: skip
    assert local["containers"][0]["pf"] == OTHER
    # The wire NIC must be one of the PFs at start too.
    with pytest.raises(IcperfInputError, match=r"^sriov_pfs: the NIC cabled to the other host"):
        vfs_for_test([container("icp0", WIRE_VFS[0], True)], CHECKED[:1], SRIOV_PFS[:1],
                     wire_nic=WIRE)  # fmt: skip


# --- the container: a VF chosen by PCI address, moved in by its interface name ----------


def vf_container(tmp_path: Path, netdevs: list[str], vf: str | None = None) -> dict[str, Any]:
    net = tmp_path / "bus/pci/devices" / WIRE_VFS[0] / "net"
    net.mkdir(parents=True)
    for name in netdevs:
        (net / name).mkdir()
    return {"name": "icp0", "vf": vf, "vf_pci": WIRE_VFS[0], "wiring": {"net": "phys"}}


def test_a_vf_netdev_is_named_from_its_pci_address_when_the_container_is_defined(
    tmp_path: Path,
) -> None:
    given = vf_container(tmp_path, ["enp1s0v0"])
    assert ContainerSet.with_vf_netdev(given, str(tmp_path))["vf"] == "enp1s0v0"
    # A lab that names the interface keeps it; other attachments are left alone.
    named = {**given, "vf": "eth9"}
    assert ContainerSet.with_vf_netdev(named, str(tmp_path)) is named
    veth = {**given, "wiring": {"net": "veth"}}
    assert ContainerSet.with_vf_netdev(veth, str(tmp_path)) is veth


def test_a_vf_without_an_interface_is_refused_naming_it(tmp_path: Path) -> None:
    given = vf_container(tmp_path, [])
    with pytest.raises(RuntimeError, match=r"icp0's VF 0000:01:10\.0 has no network interface"):
        ContainerSet.with_vf_netdev(given, str(tmp_path))


# --- the wire's counters: the port's own for SR-IOV -------------------------------------


def test_sriov_reads_the_wire_nics_port_counters_and_the_others_its_interfaces() -> None:
    rows = {name: row.wire_counters for name, row in vswitches.SWITCHES.items()}
    assert {name for name, kind in rows.items() if kind == vswitches.WIRE_PORT} == {
        "sriov", "sriov-kernel"}  # fmt: skip
    assert set(rows.values()) == {vswitches.WIRE_PORT, vswitches.WIRE_NETDEV}
    assert vswitches.traits("sriov").as_dict()["wire_counters"] == "port"


def test_the_remote_labs_shipped_plan_on_sriov() -> None:
    repo = Path(__file__).resolve().parents[2]
    for name in ("remote-1vs1.yml", "remote-2vs2.yml"):
        path = repo / "labs" / name
        lab = yaml.safe_load(path.read_text())
        planned = halves(str(path), copy.deepcopy(lab), "sriov")
        assert all(c["vf_pci"] in WIRE_VFS for p in planned.values() for c in p["containers"])


def test_sriov_kernel_takes_a_vf_named_by_its_pci_address_alone(write_lab: Any) -> None:
    """On one host too: the VF's interface is found when the container is defined."""
    lab = {"pairs": 1, "vf_pcis": WIRE_VFS[:2]}
    params = sweep(write_lab("local.yml", lab), "sriov-kernel")
    test = matrix.test_matrix(params)[0]
    planned = plan.plan_test(test, params, lab, {"cores": "0-3", "reserved": []})
    assert [(c["vf_pci"], c["vf"], c["wiring"]["net"]) for c in planned["containers"]] == [
        (WIRE_VFS[0], None, "phys"), (WIRE_VFS[1], None, "phys"),
    ]  # fmt: skip
    # Neither named: refused as before, naming the interface's field.
    with pytest.raises(IcperfInputError, match=r"^containers\[0\]\.vf: required with vswitch "
                       r"sriov-kernel \(its containers attach by vf-netdev\)$"):  # fmt: skip
        plan.plan_test(test, params, {"pairs": 1}, {"cores": "0-3", "reserved": []})
