"""Tests across two hosts refused in the first play, naming the variable, before any change.

The two-host inventories here name this machine twice (``lab1``, ``lab2``, both local
connections), or this machine and a host at a loopback port nothing listens on.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import HOST_TEST_MARKS, LABS, base_vars, host_state, run_playbook

pytestmark = HOST_TEST_MARKS

FIRST_PLAYS = {"testset.yml": "Check the test set", "run_test.yml": "Check the test"}
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def inventory(tmp: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    path = tmp / "inventory.yml"
    content = {"all": {"children": {"icperf_hosts": {"hosts": hosts}}}}
    path.write_text(json.dumps(content))
    return path


def split_lab(tmp: Path, receiver_host: str = "lab2", **sender: Any) -> str:
    """The tests' pair, its receiver placed on ``receiver_host``."""
    lab = yaml.safe_load((LABS / "icpl-pair.yml").read_text())
    lab["containers"][1]["host"] = receiver_host
    lab["containers"][0].update(sender)
    path = tmp / "icpl-split.yml"
    path.write_text(yaml.safe_dump(lab))
    return str(path)


def remote_lab(tmp: Path) -> str:
    """Listing 4.1's way: the sender alone, its receiver on another host."""
    lab = yaml.safe_load((LABS / "icpl-pair.yml").read_text())
    lab["containers"] = [{**lab["containers"][0], "remote": True}]
    path = tmp / "icpl-half.yml"
    path.write_text(yaml.safe_dump(lab))
    return str(path)


def assert_refused(
    tmp: Path, clean: dict[str, Any], playbook: str, extravars: dict[str, Any],
    hosts: Path | None, message: str,
) -> list[str]:  # fmt: skip
    run = run_playbook(tmp, playbook, extravars, inventory=hosts)

    assert run.rc != 0, run.stdout[-3000:]
    failures = run.failures()
    assert {f["event_data"]["play"] for f in failures} == {FIRST_PLAYS[playbook]}
    messages = [str(f["event_data"].get("res", {}).get("msg", "")) for f in failures]
    assert any(message in text for text in messages), messages
    assert run.plays() == [FIRST_PLAYS[playbook]]
    assert host_state() == clean
    assert not (tmp / "results").exists()
    return messages


@pytest.mark.parametrize("playbook", ["testset.yml", "run_test.yml"])
def test_a_container_on_a_host_outside_the_inventory(
    tmp_path: Path, clean_host: dict[str, Any], playbook: str
) -> None:
    hosts = inventory(tmp_path, {"lab1": LOCAL, "lab2": LOCAL})
    extravars = base_vars(tmp_path, labs=[split_lab(tmp_path, "lab3")])
    assert_refused(tmp_path, clean_host, playbook, extravars, hosts,
                   "containers[1].host: lab3 is not a lab host of the inventory "
                   "(icperf_hosts: lab1, lab2)")  # fmt: skip


def test_a_remote_lab_on_one_host(tmp_path: Path, clean_host: dict[str, Any]) -> None:
    extravars = base_vars(tmp_path, labs=[remote_lab(tmp_path)])
    assert_refused(tmp_path, clean_host, "testset.yml", extravars, None,
                   "containers[0].remote: true, so its peer runs on another host, but the "
                   "inventory gives one lab host (localhost)")  # fmt: skip
    # A pair split over two hosts, with the inventory's one (the shipped local inventory).
    extravars = base_vars(tmp_path, labs=[split_lab(tmp_path)])
    assert_refused(tmp_path, clean_host, "testset.yml", extravars, None,
                   "containers[1].host: lab2 is not a lab host of the inventory "
                   "(icperf_hosts: localhost)")  # fmt: skip


@pytest.mark.parametrize(
    ("vswitch", "reason"),
    [("basicfwd", "cannot multiplex traffic from several input ports"),
     ("snabb", "does not implement the driver for the NIC connecting the two hosts")],
)  # fmt: skip
def test_a_switch_that_cannot_span_hosts(
    tmp_path: Path, clean_host: dict[str, Any], vswitch: str, reason: str
) -> None:
    hosts = inventory(tmp_path, {"lab1": LOCAL, "lab2": LOCAL})
    extravars = base_vars(tmp_path, labs=[split_lab(tmp_path)], vswitch=vswitch)
    messages = assert_refused(tmp_path, clean_host, "testset.yml", extravars, hosts,
                              f"vswitch: {vswitch} cannot join containers on two hosts")
    assert any(reason in text for text in messages), messages


def test_an_unreachable_host_is_named_with_the_reason(
    tmp_path: Path, clean_host: dict[str, Any]
) -> None:
    port = _free_port()
    far = {"ansible_host": "127.0.0.1", "ansible_port": port, "ansible_user": "root",
           "ansible_connection": "ssh", "ansible_python_interpreter": "/usr/bin/python3",
           "ansible_ssh_common_args": "-o BatchMode=yes -o StrictHostKeyChecking=no"}
    hosts = inventory(tmp_path, {"lab1": LOCAL, "lab2": far})
    extravars = base_vars(tmp_path, labs=[split_lab(tmp_path)], icperf_connect_timeout=3)
    messages = assert_refused(tmp_path, clean_host, "testset.yml", extravars, hosts,
                              f"hosts: lab2 (127.0.0.1:{port}) is unreachable: ")
    assert any("Connection refused" in text for text in messages), messages
    assert not any("lab1 (" in text for text in messages), messages


WIRED = {**LOCAL, "icperf_wire_nic": "0000:01:00.0"}


def test_remote_tests_need_the_nic_cabled_to_the_other_host(
    tmp_path: Path, clean_host: dict[str, Any]
) -> None:
    hosts = inventory(tmp_path, {"lab1": WIRED, "lab2": LOCAL})
    extravars = base_vars(tmp_path, labs=[split_lab(tmp_path)])
    messages = assert_refused(tmp_path, clean_host, "testset.yml", extravars, hosts,
                              "icperf_wire_nic: lab2 names no NIC cabled to the other host")
    assert any("which the tests across two hosts need (icpl-split/" in text
               for text in messages), messages  # fmt: skip


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"vswitch": "vpp"}, "vswitch: vpp across two hosts is checked but not run yet by this "
                             "collection (it runs linux-bridge, ovs, sriov, sriov-kernel across "
                             "the wire"),
        ({"search": "ndr"}, "search: rate searches of tests across two hosts (icpl-split/"),
    ],
)
def test_remote_tests_this_collection_does_not_run_yet(
    tmp_path: Path, clean_host: dict[str, Any], more: dict[str, str], message: str
) -> None:
    hosts = inventory(tmp_path, {"lab1": WIRED, "lab2": WIRED})
    extravars = base_vars(tmp_path, labs=[split_lab(tmp_path)])
    if "search" in more:
        extravars.pop("rates", None)
        extravars.pop("rate", None)
    assert_refused(tmp_path, clean_host, "testset.yml", {**extravars, **more}, hosts, message)


@pytest.mark.parametrize("vswitch", ["sriov", "sriov-kernel"])
@pytest.mark.parametrize(
    ("pfs", "message"),
    [
        ({}, "sriov_pfs: no SR-IOV NIC is configured for lab1"),
        ({"sriov_pfs": [{"pf": "0000:7f:00.0", "num_vfs": 2}]},
         "sriov_pfs[0].pf: this host has no PCI device 0000:7f:00.0"),
    ],
)  # fmt: skip
def test_sriov_across_hosts_is_checked_against_each_hosts_nics(
    tmp_path: Path, clean_host: dict[str, Any], vswitch: str, pfs: dict[str, Any], message: str
) -> None:
    """SR-IOV runs across the wire now: a remote test reaches the switch's checks, which
    read each host's NICs before the tests are planned (the containers take VFs of the wire
    NIC), and this machine has no SR-IOV NIC to give them."""
    hosts = inventory(tmp_path, {"lab1": {**WIRED, **pfs}, "lab2": {**WIRED, **pfs}})
    extravars = base_vars(tmp_path, labs=[split_lab(tmp_path)], vswitch=vswitch)
    messages = assert_refused(tmp_path, clean_host, "testset.yml", extravars, hosts, message)
    assert not any("checked but not run yet" in text for text in messages), messages
