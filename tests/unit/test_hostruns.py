"""Which hosts run each test of a run across lab hosts, and the test.json joined from them."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.icperf.lab.plugins.filter.icperf_hosts import FilterModule
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.hostruns import (
    join_records,
    plan_runs,
    wire_delta,
    writer,
)

REMOTE, LOCAL = "0/remote/1vs1/32/linux-bridge/64/2000", "0/local/1vs1/32/linux-bridge/64/2000"


def plan(path: str, *names: str) -> dict[str, Any]:
    return {"path": path, "containers": [{"name": name} for name in names]}


PLANS = {
    "lab1": [plan(REMOTE, "icp0"), plan(LOCAL, "icp0", "icp1")],
    "lab2": [plan(REMOTE, "icp1"), plan(LOCAL)],
}
TO_RUN = [
    {"path": REMOTE, "index": 1, "total": 2, "replace": "", "containers": ["..."]},
    {"path": LOCAL, "index": 2, "total": 2, "replace": "aside", "aside": f"{LOCAL}.replaced-x"},
]


def test_every_host_loops_over_the_same_tests_each_with_its_hosts() -> None:
    runs = plan_runs(TO_RUN, PLANS, ["lab1", "lab2"])
    assert runs == [
        {"path": REMOTE, "index": 1, "total": 2, "replace": "", "aside": "",
         "hosts": ["lab1", "lab2"]},
        {"path": LOCAL, "index": 2, "total": 2, "replace": "aside",
         "aside": f"{LOCAL}.replaced-x", "hosts": ["lab1"]},
    ]  # fmt: skip
    # The hosts follow the inventory's order.
    assert plan_runs(TO_RUN, PLANS, ["lab2", "lab1"])[0]["hosts"] == ["lab2", "lab1"]


def test_a_host_without_plans_or_a_test_nobody_planned_is_refused() -> None:
    with pytest.raises(IcperfInputError, match=r"^plans_by_host\.lab3: the host's icperf_plans"):
        plan_runs(TO_RUN, PLANS, ["lab1", "lab3"])
    with pytest.raises(IcperfInputError, match=r"^to_run: 'x/y' is not a planned test$"):
        plan_runs([{"path": "x/y"}], PLANS, ["lab1", "lab2"])
    with pytest.raises(AnsibleFilterError, match=r"hosts: \[\] is not a list of lab hosts"):
        FilterModule().filters()["plan_runs"](TO_RUN, PLANS, [])


RECORD = {"id": REMOTE, "status": "ok", "reason": None, "apps": [], "host": {"hostname": "a"}}


def host_record(name: str, app: str, speed: int = 1000, failure: str = "") -> dict[str, Any]:
    return {
        "id": REMOTE, "apps": [{"container": name, "app": app}], "failure": failure,
        "facts": {"hostname": name}, "governor": None, "switch": None,
        "versions": {"kernel": "6.1"}, "cpu": None,
        "wire": {"nic": "0000:01:00.0", "speed_mbps": speed, "tx_packets": 5},
    }  # fmt: skip


def test_a_test_across_two_hosts_joins_apps_facts_and_the_line_rate() -> None:
    per_host = {"lab1": host_record("icp0", "send"), "lab2": host_record("icp1", "recv", 100)}
    joined = join_records(RECORD, per_host, ["lab1", "lab2"], ["lab1", "lab2"])
    assert joined["status"] == "ok" and joined["reason"] is None
    assert [app["container"] for app in joined["apps"]] == ["icp0", "icp1"]
    assert set(joined["hosts"]) == {"lab1", "lab2"}
    assert joined["hosts"]["lab2"]["wire"]["speed_mbps"] == 100
    assert set(joined["hosts"]["lab1"]) == {"facts", "governor", "switch", "versions", "cpu",
                                            "wire"}  # fmt: skip
    # The slowest NIC on the path sets the line rate.
    assert joined["line_rate_bps"] == 100_000_000
    assert joined["host"] == {"hostname": "a"}


def test_every_host_failure_is_named_and_a_lost_host_fails_the_test() -> None:
    per_host = {"lab1": host_record("icp0", "send", failure="Run the containers: boom"),
                "lab2": host_record("icp1", "recv")}  # fmt: skip
    joined = join_records(RECORD, per_host, ["lab1", "lab2"], ["lab1"])
    assert joined["status"] == "failed"
    assert joined["reason"] == ("lab1: Run the containers: boom; "
                                "lab2: unreachable during the test, its logs are lost")
    assert list(joined["hosts"]) == ["lab1"]
    stale = {**host_record("icp1", "recv"), "id": LOCAL}
    joined = join_records(RECORD, {"lab1": per_host["lab2"], "lab2": stale}, ["lab1", "lab2"],
                          ["lab1", "lab2"])  # fmt: skip
    assert joined["reason"] == "lab2: recorded nothing of this test"


def test_one_host_keeps_the_record_as_it_was() -> None:
    record = {**RECORD, "apps": [{"container": "icp0", "app": "send"}]}
    mine = {**host_record("icp0", "send"), "failure": "x: y"}
    joined = join_records(record, {"lab1": mine}, ["lab1"], ["lab1", "lab2"])
    assert joined == {**record, "status": "failed", "reason": "x: y"}
    assert "hosts" not in joined and "line_rate_bps" not in joined
    assert join_records(record, {"lab1": host_record("icp0", "send")}, ["lab1"],
                        ["lab1"]) == record  # fmt: skip


def test_the_writer_is_the_first_host_still_there() -> None:
    assert writer(["lab1", "lab2"], ["lab1", "lab2"]) == "lab1"
    assert writer(["lab1", "lab2"], ["lab2"]) == "lab2"
    assert writer(["lab1"], ["lab2"]) == ""


def test_the_wire_counts_what_moved_between_two_readings() -> None:
    before = {"nic": "0000:01:00.0", "driver": "igb", "source": "netdev", "speed_mbps": 1000,
              "rx_packets": 10, "tx_packets": 7, "rx_bytes": 900, "tx_bytes": 600}  # fmt: skip
    after = {**before, "speed_mbps": -1, "rx_packets": 12, "tx_packets": 12007,
             "rx_bytes": 1000, "tx_bytes": 816600}  # fmt: skip
    assert wire_delta(before, after) == {
        **before, "rx_packets": 2, "tx_packets": 12000, "rx_bytes": 100, "tx_bytes": 816000,
    }  # fmt: skip
    none = {"nic": "x", "source": "none", "speed_mbps": -1}
    assert wire_delta(none, none) == {**none, "rx_packets": None, "tx_packets": None,
                                      "rx_bytes": None, "tx_bytes": None}  # fmt: skip
    with pytest.raises(IcperfInputError, match=r"^wire: "):
        wire_delta(None, after)
