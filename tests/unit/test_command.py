from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.command import icperf_command
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labfile import lab_containers

TEST = {"vswitch": "linux-bridge", "pkt_size": 64, "burst": 32, "rate": 1000000}


@pytest.fixture
def pair() -> list[dict[str, Any]]:
    lab = {"pairs": 1, "vf_pcis": ["0000:04:02.0", "0000:04:02.1"]}
    return lab_containers(lab, 8, switch_cores=1, vswitch="ovs")


def test_socket_sender_defaults(pair: list[dict[str, Any]]) -> None:
    assert icperf_command(pair[0], TEST, 10) == [
        "icperf", "send", "10.0.3.10", "02:00:00:00:03:0a", "10.0.3.11", "02:00:00:00:03:0b",
        "-r", "1000000", "-p", "64", "-b", "32", "-t", "10", "--json", "--cpu", "2", "-s",
    ]  # fmt: skip


def test_socket_flags_in_order(pair: list[dict[str, Any]]) -> None:
    flags = {"raw": True, "blocking": "yes", "consume": True, "multi": 1, "debug": True}
    argv = icperf_command(pair[1], {**TEST, **flags}, "5", binary="/usr/local/bin/icperf")
    assert argv[:2] == ["/usr/local/bin/icperf", "recv"]
    assert argv[2:6] == ["10.0.3.11", "02:00:00:00:03:0b", "10.0.3.10", "02:00:00:00:03:0a"]
    assert argv[13] == "5"
    assert argv[17:] == ["-R", "eth0", "-B", "-c", "-m"]
    assert "-s" not in argv and "--" not in argv


def test_latency_applets(pair: list[dict[str, Any]]) -> None:
    client = {**pair[0], "app": "client"}
    assert icperf_command(client, TEST, 10)[1] == "client"
    assert icperf_command(client, {**TEST, "vswitch": "vpp"}, 10)[1] == "dpdk-client"


def test_ovs_runs_the_dpdk_applet_with_eal_arguments(pair: list[dict[str, Any]]) -> None:
    flags = {"raw": True, "blocking": True, "consume": True, "multi": True}
    argv = icperf_command(pair[0], {**TEST, **flags, "vswitch": "ovs"}, 10)
    separator = argv.index("--")
    assert argv[:separator] == [
        "icperf", "dpdk-send", "10.0.3.10", "02:00:00:00:03:0a", "10.0.3.11",
        "02:00:00:00:03:0b", "-r", "1000000", "-p", "64", "-b", "32", "-t", "10", "--json",
        "--cpu", "2", "-c", "-s",
    ]  # fmt: skip
    assert argv[separator + 1 :] == [
        "--vdev=net_virtio_user0,path=/run/icperf/vhost/icp0.sock,queue_size=16384,server=1",
        "--no-pci", "--single-file-segments", "--iova-mode=va", "--file-prefix=icp0", "-l", "2",
    ]  # fmt: skip


def test_sriov_uses_the_vf_and_extra_eal_arguments(pair: list[dict[str, Any]]) -> None:
    params = {**TEST, "vswitch": "sriov", "eal_args": ["--no-huge", "-m", "256"]}
    receiver = {**pair[1], "cpus": [3, 5]}
    argv = icperf_command(receiver, params, 10)
    assert argv[1] == "dpdk-recv"
    assert argv[argv.index("--") + 1 :] == [
        "-a", "0000:04:02.1", "--file-prefix=icp1", "-l", "3,5", "--no-huge", "-m", "256",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("container_changes", "params_changes", "duration", "message"),
    [
        ({}, {"vswitch": "bess"}, 10, "vswitch: unknown virtual switch 'bess'"),
        ({}, {"vswitch": None}, 10, "vswitch: unknown virtual switch None"),
        ({}, {"rate": 0}, 10, "rate: 0 is out of range (must be >= 1)"),
        ({}, {"pkt_size": 2000}, 10, "pkt_size: 2000 is out of range"),
        ({}, {"burst": "many"}, 10, "burst: 'many' is not an integer"),
        ({}, {"raw": "maybe"}, 10, "raw: 'maybe' is not a boolean"),
        ({}, {}, 0, "duration: 0 must be a whole number of seconds >= 1"),
        ({}, {"vswitch": "ovs", "eal_args": "--no-huge"}, 10, "eal_args: '--no-huge' is not"),
        ({"app": "sink"}, {}, 10, "container.app: 'sink' is not one of"),
        ({"cpus": []}, {}, 10, "container.cpus: [] is not a non-empty list"),
        ({"cpus": ["1"]}, {}, 10, "container.cpus: '1' is not a CPU number"),
        ({"peer_mac": None}, {}, 10, "container.peer_mac: None is missing"),
        ({"sock": None}, {"vswitch": "ovs"}, 10, "container.sock: None is missing"),
        ({"vf_pci": None}, {"vswitch": "sriov"}, 10, "container.vf_pci: None is missing"),
    ],
)
def test_bad_input_is_named(
    pair: list[dict[str, Any]],
    container_changes: dict[str, Any],
    params_changes: dict[str, Any],
    duration: Any,
    message: str,
) -> None:
    with pytest.raises(IcperfInputError) as caught:
        icperf_command({**pair[0], **container_changes}, {**TEST, **params_changes}, duration)
    assert str(caught.value).startswith(message)


def test_xdp_socket_on_the_container_interface(pair: list[dict[str, Any]]) -> None:
    flags = {"xdp": True, "blocking": True, "consume": True, "debug": True}
    argv = icperf_command({**pair[1], "iface": "eth1"}, {**TEST, **flags}, 5)
    assert argv[1] == "recv" and argv[17:] == ["-X", "eth1", "-B", "-c"]
    assert icperf_command(pair[0], {**TEST, "xdp": "true"}, 5)[17:19] == ["-X", "eth0"]
    assert "-X" not in icperf_command(pair[0], {**TEST, "xdp": False}, 5)


@pytest.mark.parametrize(
    ("params_changes", "message"),
    [
        ({"xdp": True, "raw": True}, "xdp: xdp and raw are two transports (-X and -R)"),
        ({"xdp": True, "multi": True}, "xdp: multi (sendmmsg/recvmmsg) is a socket mode"),
        ({"xdp": True, "vswitch": "ovs"}, "xdp: ovs is a kernel-bypass switch with dpdk"),
        ({"xdp": "perhaps"}, "xdp: 'perhaps' is not a boolean"),
    ],
)
def test_xdp_refusals_name_the_flag(
    pair: list[dict[str, Any]], params_changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(IcperfInputError) as caught:
        icperf_command(pair[0], {**TEST, **params_changes}, 5)
    assert str(caught.value).startswith(message)
