"""The short form of lab files: pairs derived into containers."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labfile import lab_containers, parse_lab


def test_one_throughput_pair() -> None:
    containers = lab_containers({"pairs": 1}, 8)
    assert containers == [
        {"index": 0, "name": "icp0", "app": "send", "ip": "10.0.3.10",
         "mac": "02:00:00:00:03:0a", "netmask": 24, "peer_ip": "10.0.3.11",
         "peer_mac": "02:00:00:00:03:0b", "peer": "icp1", "remote": False, "host": None,
         "peer_host": None, "peer_name": "icp1", "cpus": [1],
         "shared_cores": False, "sock": "/run/icperf/vhost/icp0.sock", "vf": None,
         "vf_pci": None, "host_veth": "icpv-icp0", "attach": "veth"},
        {"index": 1, "name": "icp1", "app": "recv", "ip": "10.0.3.11",
         "mac": "02:00:00:00:03:0b", "netmask": 24, "peer_ip": "10.0.3.10",
         "peer_mac": "02:00:00:00:03:0a", "peer": "icp0", "remote": False, "host": None,
         "peer_host": None, "peer_name": "icp0", "cpus": [2],
         "shared_cores": False, "sock": "/run/icperf/vhost/icp1.sock", "vf": None,
         "vf_pci": None, "host_veth": "icpv-icp1", "attach": "veth"},
    ]  # fmt: skip


@pytest.mark.parametrize("pairs", [1, 2, 4])
@pytest.mark.parametrize(
    ("dimension", "apps"), [("throughput", ("send", "recv")), ("latency", ("client", "server"))]
)
def test_pairs_are_derived(pairs: int, dimension: str, apps: tuple[str, str]) -> None:
    containers = lab_containers({"pairs": pairs, "dimension": dimension}, 16)
    assert len(containers) == 2 * pairs
    assert [c["name"] for c in containers] == [f"icp{i}" for i in range(2 * pairs)]
    assert [c["ip"] for c in containers] == [f"10.0.3.{10 + i}" for i in range(2 * pairs)]
    for number in range(pairs):
        first, second = containers[2 * number], containers[2 * number + 1]
        assert (first["app"], second["app"]) == apps
        assert (first["peer"], second["peer"]) == (second["name"], first["name"])
        assert (first["peer_ip"], first["peer_mac"]) == (second["ip"], second["mac"])
        assert (second["peer_ip"], second["peer_mac"]) == (first["ip"], first["mac"])
    for key in ("mac", "ip", "sock", "host_veth"):
        assert len({c[key] for c in containers}) == 2 * pairs
    lab = parse_lab({"pairs": pairs, "dimension": dimension})
    assert (lab.pairs, lab.dimension) == (pairs, dimension)


def test_short_form_options() -> None:
    containers = lab_containers(
        {
            "pairs": 1,
            "subnet": "192.168.7.0/24",
            "first_host": 100,
            "name_prefix": "icpu-c",
            "mac_prefix": "06:AA:00",
            "vfs": ["enp4s2", "enp4s2f1"],
            "vf_pcis": ["04:02.0", "04:02.1"],
            "description": "one pair over the NIC's switch",
        },
        4,
        vswitch="sriov",
    )
    assert [(c["name"], c["ip"], c["mac"]) for c in containers] == [
        ("icpu-c0", "192.168.7.100", "06:aa:00:a8:07:64"),
        ("icpu-c1", "192.168.7.101", "06:aa:00:a8:07:65"),
    ]
    assert [(c["vf"], c["vf_pci"]) for c in containers] == [
        ("enp4s2", "0000:04:02.0"), ("enp4s2f1", "0000:04:02.1"),
    ]  # fmt: skip


def test_dimension_argument_fills_a_missing_dimension_only() -> None:
    assert lab_containers({"pairs": 1}, 4, dimension="latency")[0]["app"] == "client"
    with pytest.raises(IcperfInputError, match=r"^dimension: throughput asked, but the lab"):
        lab_containers({"pairs": 1, "dimension": "latency"}, 4, dimension="throughput")


def test_siblings_key_of_the_lab_is_used() -> None:
    lab = {"pairs": 1, "siblings": {0: [0, 2], 1: [1, 3]}}
    # Reserved core 0 blocks its sibling 2; 1 and 3 are one physical core: 3 waits until 1 is
    # taken, and with only 1 and 3 left both containers get one each.
    assert [c["cpus"] for c in lab_containers(lab, 4)] == [[1], [3]]
    assert [c["cpus"] for c in lab_containers(lab, 4, siblings={})] == [[1], [2]]


@pytest.mark.parametrize(
    ("lab", "message"),
    [
        ({"pairs": 0}, "pairs: 0 must be an integer >= 1"),
        ({"pairs": "2"}, "pairs: '2' must be an integer >= 1"),
        ({"pairs": True}, "pairs: True must be an integer >= 1"),
        ({"pairs": 1, "dimension": "jitter"}, "dimension: 'jitter' is not one of"),
        ({"pairs": 4, "subnet": "10.0.3.0/28"},
         "subnet: 10.0.3.0/28 has no room for 8 containers from host 10"),
        ({"pairs": 1, "subnet": "10.0.3.0/33"}, "subnet: '10.0.3.0/33' is not a subnet"),
        ({"pairs": 1, "first_host": 0}, "first_host: 0 must be an integer >= 1"),
        ({"pairs": 1, "name_prefix": "my lab"}, "name_prefix: 'my lab' must be letters"),
        ({"pairs": 1, "mac_prefix": "01:00:00"}, "mac_prefix: '01:00:00' is a multicast"),
        ({"pairs": 1, "mac_prefix": 2}, "mac_prefix: 2 is not three octets"),
        ({"pairs": 1, "vfs": ["a"]}, "vfs: must be a list of 2 values, one per container"),
        ({"pairs": 1, "vf_pcis": ["04:02.0", "x"]}, "vf_pcis[1]: 'x' is not a PCI address"),
        ({"pairs": 1, "cpus_per_container": 0}, "cpus_per_container: 0 must be an integer"),
        ({"pairs": 1, "containers_per_pair": 2}, "lab.containers_per_pair: unknown field"),
    ],
)  # fmt: skip
def test_short_form_errors_name_the_key(lab: dict[str, Any], message: str) -> None:
    with pytest.raises(IcperfInputError) as caught:
        lab_containers(lab, 8)
    assert str(caught.value).startswith(message)
