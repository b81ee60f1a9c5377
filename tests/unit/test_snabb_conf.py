"""The vswitch_snabb role's settings: the Lua program's configuration and Snabb's counters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.icperf.lab.plugins.filter.icperf_switches import FilterModule
from ansible_collections.icperf.lab.plugins.module_utils import snabbconf, vswitches
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labfile import lab_containers

SOCKS = "/run/icperf/vhost"
COUNTERS = "/var/log/icperf/vswitch_snabb.counters.json"


def link(txpackets: int, txdrop: int, rxpackets: int) -> dict[str, int]:
    """A link's counters as icperf_switch.lua writes them (bytes: 64-byte frames)."""
    return {"txpackets": txpackets, "txdrop": txdrop, "rxpackets": rxpackets,
            "txbytes": 64 * txpackets}  # fmt: skip


# Written by icperf_switch.lua after a 3 s test of labs like tests/integration's: two
# throughput pairs through the learning switch (c0 and c2 send to c1 and c3). Receivers
# never send, so the bridge never learns their addresses and floods every frame to all
# other ports; the senders never read their rings, so their links fill and drop.
LEARNING_2VS2 = {
    "program": "learning",
    "links": {
        "bridge.c0 -> c0.rx": link(2367, 227954, 1344),
        "bridge.c1 -> c1.rx": link(348629, 0, 348629),
        "bridge.c2 -> c2.rx": link(1023, 117285, 1023),
        "bridge.c3 -> c3.rx": link(348629, 0, 348629),
        "c0.tx -> bridge.c0": link(118308, 28700, 118308),
        "c1.tx -> bridge.c1": link(0, 0, 0),
        "c2.tx -> bridge.c2": link(230321, 22831, 230321),
        "c3.tx -> bridge.c3": link(0, 0, 0),
    },
    "ports": {
        "c0": {"name": "icpl-q0", "sock": f"{SOCKS}/icpl-q0.sock"},
        "c1": {"name": "icpl-q1", "sock": f"{SOCKS}/icpl-q1.sock"},
        "c2": {"name": "icpl-q2", "sock": f"{SOCKS}/icpl-q2.sock"},
        "c3": {"name": "icpl-q3", "sock": f"{SOCKS}/icpl-q3.sock"},
    },
}  # fmt: skip
# The wire program, one pair: the sender's frames go straight to the receiver's port.
WIRE_1VS1 = {
    "program": "wire",
    "links": {
        "c0.tx -> c1.rx": link(774113, 1139135, 774113),
        "c1.tx -> c0.rx": link(0, 0, 0),
    },
    "ports": {"c0": {"name": "s0", "sock": "/s0.sock"}, "c1": {"name": "r0", "sock": "/r0.sock"}},
}  # fmt: skip


def ports(pairs: int = 1, dimension: str = "throughput") -> list[dict[str, Any]]:
    return lab_containers({"pairs": pairs, "dimension": dimension}, 4, [0], 1, "snabb", SOCKS)


def test_learning_config_gives_every_container_a_port_on_the_one_core() -> None:
    config = snabbconf.snabb_config(ports(2), [3], "learning", COUNTERS)
    assert config == {
        "program": "learning",
        "cpu": 3,
        "counters": COUNTERS,
        "ports": [
            {"app": "c0", "name": "icp0", "sock": f"{SOCKS}/icp0.sock"},
            {"app": "c1", "name": "icp1", "sock": f"{SOCKS}/icp1.sock"},
            {"app": "c2", "name": "icp2", "sock": f"{SOCKS}/icp2.sock"},
            {"app": "c3", "name": "icp3", "sock": f"{SOCKS}/icp3.sock"},
        ],
        "wires": [],
    }
    # The role writes it with to_nice_json and the program decodes it with lib.json.
    assert json.loads(json.dumps(config)) == config


def test_wire_config_patches_each_container_to_its_peer() -> None:
    containers = ports(2)
    # Whatever the order of the containers, a pair is patched once.
    config = snabbconf.snabb_config(list(reversed(containers)), ["1"], "wire", COUNTERS)
    assert config["cpu"] == 1
    names = {port["app"]: port["name"] for port in config["ports"]}
    assert sorted(sorted(names[app] for app in wire) for wire in config["wires"]) == [
        ["icp0", "icp1"],
        ["icp2", "icp3"],
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.__setitem__(0, "x"), r"\[0\]: 'x' is not a container"),
        (lambda c: c[1].update(name=c[0]["name"]), r"\[1\].name: icp0 is listed twice"),
        (lambda c: c[0].update(sock="relative.sock"), r"\[0\].sock: 'relative.sock' must be"),
        (lambda c: c[0].update(sock="/a b.sock"), r"\[0\].sock: '/a b.sock' must be"),
        (lambda c: c[0].update(name='a"b'), r"\[0\].name: 'a\"b' must not"),
    ],
)  # fmt: skip
def test_bad_ports_are_refused_naming_the_field(change: Any, message: str) -> None:
    containers = ports(1)
    change(containers)
    with pytest.raises(IcperfInputError, match=r"^icperf_vswitch_ports" + message):
        snabbconf.snabb_config(containers, [1], "learning", COUNTERS)


@pytest.mark.parametrize("cores", [[], [1, 2], None, [True], [-1], ["x"]])
def test_snabb_takes_exactly_one_core(cores: Any) -> None:
    with pytest.raises(IcperfInputError, match=r"^icperf_vswitch_cores: "):
        snabbconf.snabb_config(ports(1), cores, "learning", COUNTERS)


def test_program_and_counters_file_are_checked() -> None:
    with pytest.raises(IcperfInputError, match=r"^vswitch_snabb_program: 'flood' is not one of"):
        snabbconf.snabb_config(ports(1), [1], "flood", COUNTERS)
    with pytest.raises(IcperfInputError, match=r"^vswitch_snabb_counters_file: 'c.json'"):
        snabbconf.snabb_config(ports(1), [1], "learning", "c.json")


def test_wire_refuses_containers_without_a_local_peer() -> None:
    remote = ports(1)
    remote[0].update(peer=None, remote=True)
    with pytest.raises(IcperfInputError, match=r"^icperf_vswitch_ports\[0\].peer: .* is remote"):
        snabbconf.snabb_config(remote, [1], "wire", COUNTERS)
    # A remote peer is no problem for the learning switch.
    assert snabbconf.snabb_config(remote, [1], "learning", COUNTERS)["wires"] == []
    stranger = ports(1)
    stranger[0]["peer"] = "elsewhere"
    with pytest.raises(IcperfInputError, match=r"'elsewhere' is not one of the test's containers"):
        snabbconf.snabb_config(stranger, [1], "wire", COUNTERS)
    three = ports(2)[:3]
    three[2]["peer"] = "icp0"  # icp0's own peer is icp1
    with pytest.raises(IcperfInputError, match=r"\[2\].peer: icp2's peer icp0 has another"):
        snabbconf.snabb_config(three, [1], "wire", COUNTERS)


def test_learning_counters_account_for_every_frame_of_each_pair() -> None:
    counted = snabbconf.snabb_port_counters(json.dumps(LEARNING_2VS2))
    assert counted == {
        "icpl-q0": {"rx": 147008, "rx_dropped": 28700, "tx": 1344, "tx_dropped": 228977},
        "icpl-q1": {"rx": 0, "rx_dropped": 0, "tx": 348629, "tx_dropped": 0},
        "icpl-q2": {"rx": 253152, "rx_dropped": 22831, "tx": 1023, "tx_dropped": 117285},
        "icpl-q3": {"rx": 0, "rx_dropped": 0, "tx": 348629, "tx_dropped": 0},
    }
    # The applets of that test: q0 sent 147008 and q1 received 118308 of them; q2 sent
    # 253152, q3 received 230321. What the bridge let through reached both receivers.
    assert counted["icpl-q0"]["rx"] - counted["icpl-q0"]["rx_dropped"] == 118308
    assert counted["icpl-q2"]["rx"] - counted["icpl-q2"]["rx_dropped"] == 230321
    assert counted["icpl-q1"]["tx"] == 118308 + 230321 == counted["icpl-q3"]["tx"]


def test_wire_counters_charge_a_full_link_to_the_receiving_port() -> None:
    counted = snabbconf.snabb_port_counters(WIRE_1VS1)
    assert counted == {
        "s0": {"rx": 1913248, "rx_dropped": 0, "tx": 0, "tx_dropped": 0},
        "r0": {"rx": 0, "rx_dropped": 0, "tx": 774113, "tx_dropped": 1139135},
    }


@pytest.mark.parametrize(
    ("counters", "message"),
    [
        ("not json", r"^counters: not JSON"),
        ({"ports": {}}, r"^counters: no links"),
        ({"links": {}}, r"^counters: no ports"),
        ({"links": {}, "ports": {"c0": {}}}, r"^counters: port c0 has no container name"),
        ({"links": {"c0.tx": {}}, "ports": {}}, r"^counters: 'c0.tx' is not a link"),
        (
            {"links": {"a.tx -> b.rx": link(-1, 0, 0)}, "ports": {}},
            r"^counters: a.tx -> b.rx.txpackets: -1 is not a count",
        ),
    ],
)  # fmt: skip
def test_counters_not_written_by_the_program_are_refused(counters: Any, message: str) -> None:
    with pytest.raises(IcperfInputError, match=message):
        snabbconf.snabb_port_counters(counters)


def test_filters_wrap_the_errors_and_keep_the_message() -> None:
    filters = FilterModule().filters()
    with pytest.raises(AnsibleFilterError, match=r"^icperf_vswitch_cores: "):
        filters["snabb_config"](ports(1), [1, 2], "learning", COUNTERS)
    assert filters["snabb_port_counters"](WIRE_1VS1)["r0"]["tx"] == 774113


def plan_of(vswitch: str, containers: list[dict[str, Any]], cores: list[int]) -> dict[str, Any]:
    """The fields of a plan_tests plan that the first play's check reads."""
    row = vswitches.traits(vswitch).as_dict()
    path = f"l/c1-d3/32/{vswitch}/64/1000"
    return {"vswitch": vswitch, "path": path, "traits": row, "containers": containers,
            "switch_cores": cores}  # fmt: skip


def test_first_play_checks_each_test_with_its_rows_program() -> None:
    plans = [plan_of("snabb", ports(2), [1]), plan_of("snabb-wire", ports(2), [1])]
    assert snabbconf.snabb_check_plans(plans, COUNTERS) == [p["path"] for p in plans]
    # A container whose peer is on another host: the learning switch takes it, the wire
    # program cannot patch it, and the message names the switch and the test.
    remote = ports(1)
    remote[0].update(peer=None, remote=True)
    assert snabbconf.snabb_check_plans([plan_of("snabb", remote, [1])], COUNTERS)
    with pytest.raises(IcperfInputError, match=(
        r"^vswitches: snabb-wire cannot run l/c1-d3/32/snabb-wire/64/1000: "
        r"icperf_vswitch_ports\[0\].peer: .* is remote"
    )):  # fmt: skip
        snabbconf.snabb_check_plans([plan_of("snabb-wire", remote, [1])], COUNTERS)
    with pytest.raises(
        IcperfInputError,
        match=r"^vswitches: snabb cannot run .*: "
        r"icperf_vswitch_cores: \[1, 2\] must hold exactly one core",
    ):
        snabbconf.snabb_check_plans([plan_of("snabb", ports(1), [1, 2])], COUNTERS)
    with pytest.raises(IcperfInputError, match=r"^plans\[0\]: 'x' is not a plan"):
        snabbconf.snabb_check_plans(["x"], COUNTERS)
    with pytest.raises(AnsibleFilterError, match=r"^vswitches: snabb-wire cannot run "):
        FilterModule().filters()["snabb_check_plans"](
            [plan_of("snabb-wire", remote, [1])], COUNTERS
        )
