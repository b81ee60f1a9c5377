"""The long form of lab files: the thesis' Listing 4.1 as YAML, and its validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labfile import (
    host_veth,
    lab_containers,
    load_lab_file,
    parse_lab,
    vswitch_cores,
)

# Listing 4.1: dpdk_c0 and dpdk_c1 form a pair, dpdk_c2 talks to a container on another host.
LISTING_4_1: dict[str, Any] = {
    "containers": [
        {"name": "dpdk_c0", "app": "send", "ip": "10.0.3.10", "mac": "02:00:00:00:00:10",
         "netmask": 24, "peer_ip": "10.0.3.11", "peer_mac": "02:00:00:00:00:11",
         "vf": "enp4s2", "vf_pci": "04:02.0", "sock": "sock0", "cpus": [2]},
        {"name": "dpdk_c1", "app": "recv", "ip": "10.0.3.11", "mac": "02:00:00:00:00:11",
         "netmask": "255.255.255.0", "peer_ip": "10.0.3.10", "peer_mac": "02:00:00:00:00:10",
         "vf": "enp4s2f1", "vf_pci": "0000:04:02.1", "sock": "sock1", "cpus": "3"},
        {"name": "dpdk_c2", "app": "send", "ip": "10.0.3.12", "mac": "02:00:00:00:00:12",
         "peer_ip": "10.0.3.20", "peer_mac": "02:00:00:00:00:20", "remote": True,
         "vf": "enp4s2f2", "vf_pci": "04:02.2", "sock": "sock2"},
    ]
}  # fmt: skip


def listing(**changes: dict[str, Any]) -> dict[str, Any]:
    """Listing 4.1 with fields of container i changed ({"1": {"ip": ...}}; None deletes)."""
    lab = copy.deepcopy(LISTING_4_1)
    for position, fields in changes.items():
        entry = lab["containers"][int(position.lstrip("c"))]
        for key, value in fields.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
    return lab


def test_listing_4_1_gives_the_containers() -> None:
    containers = lab_containers(LISTING_4_1, 8, reserved_cores=[0], switch_cores=1,
                                vswitch="sriov")  # fmt: skip
    assert containers[0] == {
        "index": 0,
        "name": "dpdk_c0",
        "app": "send",
        "ip": "10.0.3.10",
        "mac": "02:00:00:00:00:10",
        "netmask": 24,
        "peer_ip": "10.0.3.11",
        "peer_mac": "02:00:00:00:00:11",
        "peer": "dpdk_c1",
        "remote": False,
        "host": None,
        "peer_host": None,
        "peer_name": "dpdk_c1",
        "cpus": [2],
        "shared_cores": False,
        "sock": "/run/icperf/vhost/sock0",
        "vf": "enp4s2",
        "vf_pci": "0000:04:02.0",
        "host_veth": "icpv-dpdk_c0",
        "attach": "vf-pci",
    }
    assert containers[1]["netmask"] == 24
    assert containers[1]["peer"] == "dpdk_c0"
    assert containers[1]["cpus"] == [3]
    remote = containers[2]
    assert (remote["peer"], remote["remote"], remote["index"]) == (None, True, 2)
    # Core 1 goes to the switch (lowest free), so the unpinned container gets the next free.
    assert remote["cpus"] == [4]
    assert vswitch_cores(LISTING_4_1, 8, reserved_cores=[0], switch_cores=1) == [1]


def test_switch_avoids_cores_pinned_in_the_lab() -> None:
    lab = listing(c0={"cpus": [1]}, c1={"cpus": [2]})
    assert vswitch_cores(lab, 4, switch_cores=1) == [3]
    containers = lab_containers(lab, 4, switch_cores=1)
    assert [c["cpus"] for c in containers] == [[1], [2], [1]]
    assert all(c["shared_cores"] for c in containers)


def test_socket_dir_and_absolute_socket() -> None:
    lab = listing(c1={"sock": "/tmp/icpu/custom.sock"}, c2={"sock": None})
    containers = lab_containers(lab, 8, socket_dir="/var/run/x/")
    assert [c["sock"] for c in containers] == [
        "/var/run/x/sock0", "/tmp/icpu/custom.sock", "/var/run/x/dpdk_c2.sock",
    ]  # fmt: skip


def test_long_names_get_a_hashed_host_veth() -> None:
    assert host_veth("icp0") == "icpv-icp0"
    assert host_veth("abcdefghij") == "icpv-abcdefghij"
    long_name = host_veth("abcdefghijk")
    assert long_name.startswith("icpv-") and len(long_name) == 13
    assert long_name != host_veth("abcdefghijl")


def test_parse_lab_counts_pairs_and_dimension() -> None:
    lab = parse_lab(LISTING_4_1)
    assert (lab.pairs, lab.dimension) == (2, "throughput")
    latency = listing(c0={"app": "client"}, c1={"app": "server"}, c2={"app": "client"})
    assert parse_lab(latency).dimension == "latency"
    mixed = listing(c2={"app": "client"})
    assert parse_lab(mixed).dimension == "mixed"


@pytest.mark.parametrize(
    ("lab", "message"),
    [
        (listing(c1={"name": "dpdk_c0"}),
         "containers[1].name: dpdk_c0 duplicates containers[0].name"),
        (listing(c2={"ip": "10.0.3.11"}),
         "containers[2].ip: 10.0.3.11 duplicates containers[1].ip"),
        (listing(c2={"mac": "02:00:00:00:00:10"}),
         "containers[2].mac: 02:00:00:00:00:10 duplicates containers[0].mac"),
        (listing(c2={"sock": "sock1"}), "containers[2].sock: sock1 duplicates containers[1]"),
        (listing(c2={"vf": "enp4s2"}), "containers[2].vf: enp4s2 duplicates containers[0].vf"),
        (listing(c2={"vf_pci": "0000:04:02.0"}),
         "containers[2].vf_pci: 0000:04:02.0 duplicates containers[0].vf_pci"),
        (listing(c1={"cpus": [2, 3]}),
         "containers[1].cpus: cpu 2 is also in containers[0].cpus"),
        (listing(c0={"peer_ip": "10.0.3.30"}),
         "containers[0].peer_ip: no container has 10.0.3.30: a send needs a recv "
         "(set remote: true if the recv runs on another host)"),
        (listing(c2={"remote": None}),
         "containers[2].peer_ip: no container has 10.0.3.20: a send needs a recv"),
        (listing(c2={"app": "client", "remote": False}),
         "containers[2].peer_ip: no container has 10.0.3.20: a client needs a server"),
        (listing(c1={"app": "send"}),
         "containers[0].peer_ip: 10.0.3.11 is containers[1] (send), but a send needs a recv"),
        (listing(c0={"app": "client"}),
         "containers[0].peer_ip: 10.0.3.11 is containers[1] (recv), but a client needs a "
         "server"),
        (listing(c0={"peer_mac": "02:00:00:00:00:99"}),
         "containers[0].peer_mac: 02:00:00:00:00:99 is not containers[1].mac"),
        (listing(c1={"peer_ip": "10.0.3.12", "peer_mac": "02:00:00:00:00:12"}),
         "containers[1].peer_ip: 10.0.3.12 should be 10.0.3.10, the ip of its peer "
         "containers[0]"),
        (listing(c0={"remote": True}),
         "containers[0].remote: true, but its peer_ip 10.0.3.11 is containers[1] in this file"),
        (listing(c0={"peer_ip": "10.0.4.11"}),
         "containers[0].peer_ip: 10.0.4.11 is outside 10.0.3.0/24"),
        (listing(c2={"peer_ip": "10.0.3.12"}),
         "containers[2].peer_ip: 10.0.3.12 is the container's own ip"),
        (listing(c0={"ip": "10.0.3.300"}),
         "containers[0].ip: '10.0.3.300' is not an IPv4 address"),
        (listing(c0={"mac": "02:00:00:00:10"}),
         "containers[0].mac: '02:00:00:00:10' is not a MAC address"),
        (listing(c0={"peer_mac": "zz:00:00:00:00:10"}),
         "containers[0].peer_mac: 'zz:00:00:00:00:10' is not a MAC address"),
        (listing(c0={"app": "sender"}),
         "containers[0].app: 'sender' is not one of send, recv, client, server"),
        (listing(c0={"name": None}), "containers[0].name: missing"),
        (listing(c1={"peer_ip": None}), "containers[1].peer_ip: missing"),
        (listing(c0={"adress": "10.0.3.10"}), "containers[0].adress: unknown field"),
        (listing(c0={"netmask": 33}), "containers[0].netmask: 33 is not a prefix length"),
        (listing(c0={"vf_pci": "4:2.0"}), "containers[0].vf_pci: '4:2.0' is not a PCI address"),
        (listing(c0={"name": "bad name"}), "containers[0].name: 'bad name' must be letters"),
        (listing(c0={"cpus": []}), "containers[0].cpus: empty"),
        (listing(c0={"cpus": "1-x"}), "containers[0].cpus: '1-x' is not a CPU list"),
        (listing(c0={"remote": "perhaps"}), "containers[0].remote: 'perhaps' is not a boolean"),
        (listing(c0={"sock": ""}), "containers[0].sock: '' is not a non-empty string"),
        ({"containers": []}, "containers: must be a non-empty list"),
        ({"containers": ["icp0"]}, "containers[0]: 'icp0' is not a mapping"),
        ({**LISTING_4_1, "pairs": 1}, "lab: give either containers (long form) or pairs"),
        ({**LISTING_4_1, "hosts": 2}, "lab.hosts: unknown field"),
        ({"name": "x"}, "lab: needs containers (long form) or pairs (short form)"),
        (["containers"], "lab: ['containers'] is not a mapping"),
    ],
)  # fmt: skip
def test_validation_names_the_field(lab: object, message: str) -> None:
    with pytest.raises(IcperfInputError) as caught:
        lab_containers(lab, 8)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vswitch": "bess"}, "vswitch: unknown virtual switch 'bess'"),
        ({"socket_dir": "run/vhost"}, "socket_dir: 'run/vhost' is not an absolute path"),
        ({"socket_dir": "/" + "d" * 110}, "containers[0].sock: /ddd"),
        ({"dimension": "latency"}, "dimension: latency asked, but the lab's applets are "
                                   "throughput"),
        ({"host_cores": 2, "reserved_cores": [0, 1]},
         "reserved_cores: all host cores ([0, 1]) are reserved"),
        ({"reserved_cores": [9]}, "reserved_cores: cpu 9 is not a host core"),
        ({"reserved_cores": [2]}, "containers[0].cpus: cpu 2 is reserved (reserved_cores)"),
        ({"host_cores": "0-2"}, "containers[1].cpus: cpu 3 is not a host core ([0, 1, 2])"),
        ({"switch_cores": 8}, "switch_cores: 8 cores asked but only 7 host cores are not "
                              "reserved"),
        ({"switch_cores": -1}, "switch_cores: -1 is not a count of cores >= 0"),
        ({"host_cores": 0}, "host_cores: 0 must be at least 1"),
        ({"siblings": [1, 2]}, "siblings: [1, 2] is not a mapping"),
    ],
)  # fmt: skip
def test_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"host_cores": 8, **kwargs}
    with pytest.raises(IcperfInputError) as caught:
        lab_containers(LISTING_4_1, **arguments)
    assert str(caught.value).startswith(message)


def test_sriov_needs_a_vf_pci_per_container() -> None:
    lab = listing(c1={"vf_pci": None})
    assert lab_containers(lab, 8, vswitch="ovs")[1]["vf_pci"] is None
    with pytest.raises(IcperfInputError, match=r"^containers\[1\]\.vf_pci: required with"):
        lab_containers(lab, 8, vswitch="sriov")


def test_load_lab_file(tmp_path: Any) -> None:
    good = tmp_path / "lab.yml"
    good.write_text("pairs: 2\ndimension: latency\n", encoding="utf-8")
    assert load_lab_file(str(good)) == {"pairs": 2, "dimension": "latency"}
    bad = tmp_path / "bad.yml"
    bad.write_text("pairs: [1\n", encoding="utf-8")
    with pytest.raises(IcperfInputError, match=r"^lab: .*bad.yml is not valid YAML"):
        load_lab_file(str(bad))
    with pytest.raises(IcperfInputError, match=r"^lab: cannot read .*missing.yml"):
        load_lab_file(str(tmp_path / "missing.yml"))


def test_derived_socket_and_veth_collisions_are_refused() -> None:
    lab = listing(c0={"sock": "dpdk_c2.sock"}, c2={"sock": None})
    with pytest.raises(IcperfInputError) as caught:
        lab_containers(lab, 8)
    assert str(caught.value) == (
        "containers[2].sock: /run/icperf/vhost/dpdk_c2.sock is also used by containers[0]"
    )
    # Both names are too long for icpv-<name>, so both get a hash; the hashes differ.
    long_names = listing(c0={"name": "container_one"}, c1={"name": "container_two"})
    veths = [c["host_veth"] for c in lab_containers(long_names, 8)]
    assert len(set(veths)) == 3 and all(len(veth) <= 15 for veth in veths)


def test_switch_cores_may_arrive_as_a_string() -> None:
    assert vswitch_cores(LISTING_4_1, 8, switch_cores="2") == [1, 4]
