"""Containers placed on the inventory's hosts, and the refusals of tests across two hosts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import matrix, plan, vswitches
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labspec import (
    check_remote,
    parse_lab,
    place_hosts,
)

HOSTS = ["lab1", "lab2"]
# Two pairs: p0 sends from lab1 to p1 on lab2; p2 and p3 talk on lab1 (no host: the first).
SPLIT: dict[str, Any] = {
    "containers": [
        {"name": "p0", "app": "send", "ip": "10.0.3.10", "mac": "02:00:00:00:03:0a",
         "peer_ip": "10.0.3.11", "peer_mac": "02:00:00:00:03:0b", "host": "lab1"},
        {"name": "p1", "app": "recv", "ip": "10.0.3.11", "mac": "02:00:00:00:03:0b",
         "peer_ip": "10.0.3.10", "peer_mac": "02:00:00:00:03:0a", "host": "lab2"},
        {"name": "p2", "app": "send", "ip": "10.0.3.12", "mac": "02:00:00:00:03:0c",
         "peer_ip": "10.0.3.13", "peer_mac": "02:00:00:00:03:0d"},
        {"name": "p3", "app": "recv", "ip": "10.0.3.13", "mac": "02:00:00:00:03:0d",
         "peer_ip": "10.0.3.12", "peer_mac": "02:00:00:00:03:0c"},
    ]
}  # fmt: skip
# The thesis' way (Listing 4.1): one lab per host, the far peer marked remote.
HALF: dict[str, Any] = {"containers": [{**SPLIT["containers"][0], "remote": True}]}
del HALF["containers"][0]["host"]


def sweep(lab: str, vswitch: str = "linux-bridge") -> dict[str, Any]:
    return {"vswitches": [vswitch], "pkt_sizes": [64], "bursts": [32], "rates": [1000],
            "labs": [lab], "duration": 10}  # fmt: skip


def test_containers_go_to_their_host_or_the_first_lab_host() -> None:
    assert place_hosts(parse_lab(SPLIT), HOSTS) == ["lab1", "lab2", "lab1", "lab1"]
    assert place_hosts(parse_lab(SPLIT), ["lab2", "lab1"]) == ["lab1", "lab2", "lab2", "lab2"]
    # Without an inventory at hand the unplaced containers have no host yet.
    assert place_hosts(parse_lab(SPLIT)) == ["lab1", "lab2", None, None]


def test_a_host_outside_the_inventory_is_refused_naming_the_field() -> None:
    lab = copy.deepcopy(SPLIT)
    lab["containers"][1]["host"] = "lab3"
    with pytest.raises(
        IcperfInputError,
        match=r"^containers\[1\]\.host: lab3 is not a lab host of the inventory "
        r"\(icperf_hosts: lab1, lab2\)$",
    ):
        place_hosts(parse_lab(lab), HOSTS)


@pytest.mark.parametrize("value", ["", 3, ["lab1"]])
def test_a_host_must_be_a_name(value: object) -> None:
    lab = copy.deepcopy(SPLIT)
    lab["containers"][0]["host"] = value
    with pytest.raises(IcperfInputError, match=r"^containers\[0\]\.host: .* is not a non-empty"):
        parse_lab(lab)


def test_split_pairs_and_remote_peers_make_a_remote_lab() -> None:
    assert check_remote(parse_lab(SPLIT), HOSTS) is True
    assert check_remote(parse_lab(HALF), HOSTS) is True
    local = {"containers": SPLIT["containers"][2:]}
    assert check_remote(parse_lab(local), HOSTS) is False
    assert check_remote(parse_lab(local), ["lab1"]) is False
    # Both ends on the second host: a local test there.
    on_two = copy.deepcopy(local)
    for entry in on_two["containers"]:
        entry["host"] = "lab2"
    assert check_remote(parse_lab(on_two), HOSTS) is False


def test_a_remote_lab_with_one_lab_host_is_refused() -> None:
    with pytest.raises(
        IcperfInputError,
        match=r"^containers\[0\]\.remote: true, so its peer runs on another host, but the "
        r"inventory gives one lab host \(localhost\); a remote test needs two hosts",
    ):
        check_remote(parse_lab(HALF), ["localhost"])
    # A split lab on one host: the second host is not in the inventory.
    with pytest.raises(IcperfInputError, match=r"^containers\[1\]\.host: lab2 is not"):
        check_remote(parse_lab(SPLIT), ["lab1"])


def test_the_matrix_marks_remote_tests_and_refuses_them_on_one_host(write_lab: Any) -> None:
    split = write_lab("split.yml", SPLIT)
    tests = matrix.test_matrix(sweep(split), lab_hosts=HOSTS)
    assert tests[0]["identity"]["hosts"] == "remote"
    with pytest.raises(IcperfInputError, match=r"^labs\[0\] \(.*split.yml\): containers\[1\]"):
        matrix.test_matrix(sweep(split), lab_hosts=["lab1"])
    half = write_lab("half.yml", HALF)
    with pytest.raises(IcperfInputError, match=r"^labs\[0\] \(.*half.yml\): containers\[0\]"):
        matrix.test_matrix(sweep(half), lab_hosts=["localhost"])


def test_a_local_lab_keeps_its_identity_and_folder(write_lab: Any) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1})
    without = matrix.test_matrix(sweep(lab))
    assert matrix.test_matrix(sweep(lab), lab_hosts=["localhost"]) == without
    assert matrix.test_matrix(sweep(lab), lab_hosts=HOSTS) == without
    assert without[0]["identity"]["hosts"] == "local"


@pytest.mark.parametrize(
    "vswitch", [row.name for row in vswitches.SWITCHES.values() if row.no_remote]
)
def test_switches_that_cannot_span_hosts_are_refused_with_the_thesis_reason(
    write_lab: Any, vswitch: str
) -> None:
    split = write_lab("split.yml", SPLIT)
    reason = vswitches.traits(vswitch).no_remote
    assert "thesis" in reason
    with pytest.raises(IcperfInputError) as raised:
        matrix.test_matrix(sweep(split, vswitch), lab_hosts=HOSTS)
    message = str(raised.value)
    assert message.startswith(f"vswitch: {vswitch} cannot join containers on two hosts")
    assert message.endswith(reason)
    # The same switch on a local lab is fine.
    local = write_lab("local.yml", {"containers": SPLIT["containers"][2:]})
    assert matrix.test_matrix(sweep(local, vswitch), lab_hosts=HOSTS)


def test_the_thesis_excluded_basicfwd_and_snabb_from_remote_tests() -> None:
    spans = {name for name, row in vswitches.SWITCHES.items() if not row.no_remote}
    assert spans == {"linux-bridge", "ovs", "vpp", "sriov", "sriov-kernel"}
    assert "multiplex" in vswitches.traits("basicfwd").no_remote
    assert "driver" in vswitches.traits("snabb").no_remote


def test_each_host_plans_its_own_containers(write_lab: Any) -> None:
    split = write_lab("split.yml", SPLIT)
    params = sweep(split)
    test = matrix.test_matrix(params, lab_hosts=HOSTS)[0]
    plans = {
        name: plan.plan_test(test, params, SPLIT,
                             {"cores": "0-3", "reserved": [0], "name": name, "lab_hosts": HOSTS})
        for name in HOSTS
    }  # fmt: skip
    first = {c["name"]: c for c in plans["lab1"]["containers"]}
    second = {c["name"]: c for c in plans["lab2"]["containers"]}
    assert sorted(first) == ["p0", "p2", "p3"]
    assert sorted(second) == ["p1"]
    # The split pair: each end is remote from where it runs, its peer's host named.
    assert (first["p0"]["peer"], first["p0"]["remote"], first["p0"]["peer_host"]) == (
        None, True, "lab2")  # fmt: skip
    assert (second["p1"]["peer"], second["p1"]["remote"], second["p1"]["peer_host"]) == (
        None, True, "lab1")  # fmt: skip
    assert (first["p2"]["peer"], first["p2"]["remote"]) == ("p3", False)
    # Cores come from each host's own: lab2 starts again from its first free core.
    assert [first[n]["cpus"] for n in ("p0", "p2", "p3")] == [[1], [2], [3]]
    assert second["p1"]["cpus"] == [1]
    assert {a["container"]: a["host"] for a in plans["lab2"]["record"]["apps"]} == {"p1": "lab2"}
    assert plans["lab1"]["identity"]["hosts"] == "remote"
    # A receiver waits for a sender on another host through the controller's turns on both.
    planned = [*plans["lab1"]["containers"], *plans["lab2"]["containers"]]
    duration = {c["name"]: c["argv"][c["argv"].index("-t") + 1] for c in planned}
    assert duration == {"p0": "10", "p1": "610", "p2": "10", "p3": "70"}


def test_without_lab_hosts_a_plan_keeps_every_container(write_lab: Any) -> None:
    lab = {"containers": SPLIT["containers"][2:]}
    params = sweep(write_lab("local.yml", lab))
    test = matrix.test_matrix(params)[0]
    planned = plan.plan_test(test, params, lab, {"cores": "0-3", "name": "localhost"})
    assert [c["name"] for c in planned["containers"]] == ["p2", "p3"]
    assert [a["host"] for a in planned["record"]["apps"]] == ["localhost", "localhost"]
    with pytest.raises(IcperfInputError, match=r"^host\.lab_hosts: 'lab1' is not a list"):
        plan.plan_test(test, params, lab, {"cores": "0-3", "lab_hosts": "lab1"})


ACROSS: dict[str, Any] = {"pairs": 2, "across_hosts": True}


def test_a_short_lab_across_hosts_puts_senders_first_and_receivers_second() -> None:
    lab = parse_lab(ACROSS)
    assert place_hosts(lab, HOSTS) == ["lab1", "lab2", "lab1", "lab2"]
    assert place_hosts(lab, ["lab2", "lab1"]) == ["lab2", "lab1", "lab2", "lab1"]
    assert check_remote(lab, HOSTS) is True
    # across_hosts: false is a local lab like any other.
    assert check_remote(parse_lab({**ACROSS, "across_hosts": False}), HOSTS) is False


def test_a_short_lab_across_hosts_needs_two_hosts() -> None:
    with pytest.raises(
        IcperfInputError,
        match=r"^across_hosts: true puts the receivers on a second lab host, but the inventory "
        r"gives one lab host \(lab1\); a remote test needs two hosts in icperf_hosts$",
    ):
        check_remote(parse_lab(ACROSS), ["lab1"])
    with pytest.raises(IcperfInputError, match=r"^across_hosts: "):
        parse_lab({**ACROSS, "across_hosts": "sometimes"})


def test_each_host_plans_its_half_of_a_lab_across_hosts(write_lab: Any) -> None:
    params = sweep(write_lab("across.yml", ACROSS))
    test = matrix.test_matrix(params, lab_hosts=HOSTS)[0]
    assert test["identity"]["hosts"] == "remote"
    halves = {
        name: plan.plan_test(test, params, ACROSS,
                             {"cores": "0-3", "reserved": [], "name": name, "lab_hosts": HOSTS})
        for name in HOSTS
    }  # fmt: skip
    assert [c["name"] for c in halves["lab1"]["containers"]] == ["icp0", "icp2"]
    assert [c["name"] for c in halves["lab2"]["containers"]] == ["icp1", "icp3"]
    # The record names each app's peer on the other host.
    assert [(a["container"], a["peer"], a["host"]) for a in halves["lab2"]["record"]["apps"]] == [
        ("icp1", "icp0", "lab2"), ("icp3", "icp2", "lab2"),
    ]  # fmt: skip
