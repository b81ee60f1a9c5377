"""Tests whose containers run on several lab hosts: which hosts run a test, and its record.

Every lab host plans the run (plan_tests, only its own containers); the run play loops on
every host over the same list of tests (``plan_runs``), so that Ansible drives the hosts of
a test in lockstep, task by task: the receivers' host is ready before the senders' host
starts its senders. A test runs on the hosts that have containers in it; the first of
them still reachable writes test.json, joining what each host recorded (``join_records``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

WIRE_COUNTERS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes")
RUN_KEYS = ("path", "index", "total", "replace", "aside")
# What each host of a test recorded, kept per host in a remote test's test.json ``hosts``.
HOST_KEYS = ("facts", "governor", "switch", "versions", "cpu", "wire")


def _plans_of(plans_by_host: object, host: str) -> list[Mapping[str, Any]]:
    plans = plans_by_host.get(host) if isinstance(plans_by_host, Mapping) else None
    if not isinstance(plans, list):
        raise IcperfInputError(f"plans_by_host.{host}: the host's icperf_plans are missing")
    return plans


def plan_runs(
    to_run: object, plans_by_host: object, hosts: object
) -> list[dict[str, Any]]:
    """The tests to run as every host loops over them: ``to_run`` (resume_plan's, the same
    on every host) reduced to RUN_KEYS, each with ``hosts``, the lab hosts (in ``hosts``
    order) whose plan of the test has containers."""
    if not isinstance(to_run, list):
        raise IcperfInputError(f"to_run: {to_run!r} is not resume_plan's list of tests")
    if not isinstance(hosts, list | tuple) or not hosts:
        raise IcperfInputError(f"hosts: {hosts!r} is not a list of lab hosts")
    containers: dict[str, dict[str, int]] = {}
    for host in hosts:
        for plan in _plans_of(plans_by_host, str(host)):
            containers.setdefault(plan["path"], {})[str(host)] = len(plan["containers"])
    runs = []
    for test in to_run:
        path = test.get("path") if isinstance(test, Mapping) else None
        if path not in containers:
            raise IcperfInputError(f"to_run: {path!r} is not a planned test")
        runs.append({
            **{key: test.get(key, "") for key in RUN_KEYS},
            "hosts": [str(h) for h in hosts if containers[path].get(str(h), 0) > 0],
        })  # fmt: skip
    return runs


def _failure(host: str, text: str, several: bool) -> str:
    return f"{host}: {text}" if several else text


def join_records(
    record: object, per_host: object, test_hosts: object, reachable: object
) -> dict[str, Any]:
    """test.json of a test across ``test_hosts``: ``record`` (the writer's, from
    finish_test) with every host's apps, the failures of every host (a host no longer
    reachable fails the test), each host's facts under ``hosts``, and ``line_rate_bps``,
    the slowest wire NIC's speed.

    ``per_host`` maps each reachable host of the test to {id (the test's), apps, failure,
    facts, governor, switch, versions, cpu, wire}.
    """
    if not isinstance(record, Mapping):
        raise IcperfInputError(f"record: {record!r} is not a test record")
    if not isinstance(per_host, Mapping):
        raise IcperfInputError(f"per_host: {per_host!r} is not a mapping of host to record")
    if not isinstance(test_hosts, list | tuple) or not test_hosts:
        raise IcperfInputError(f"test_hosts: {test_hosts!r} is not a list of lab hosts")
    alive = set(reachable) if isinstance(reachable, list | tuple) else set()
    several = len(test_hosts) > 1
    apps: list[Any] = []
    failures: list[str] = []
    hosts: dict[str, Any] = {}
    speeds: list[int] = []
    for host in test_hosts:
        got = per_host.get(host)
        if host not in alive:
            failures.append(_failure(host, "unreachable during the test, its logs are lost",
                                     several))  # fmt: skip
            continue
        if not isinstance(got, Mapping) or got.get("id") != record.get("id"):
            failures.append(_failure(host, "recorded nothing of this test", several))
            continue
        apps.extend(got.get("apps") or [])
        if got.get("failure"):
            failures.append(_failure(host, str(got["failure"]), several))
        hosts[host] = {key: got.get(key) for key in HOST_KEYS}
        speed = (got.get("wire") or {}).get("speed_mbps")
        if isinstance(speed, int) and speed > 0:
            speeds.append(speed)
    joined = {**record, "apps": apps}
    if failures:
        joined["status"] = "failed"
        joined["reason"] = "; ".join(failures)
    if several:
        joined["hosts"] = hosts
        joined["line_rate_bps"] = min(speeds) * 1_000_000 if speeds else None
    return joined


def writer(test_hosts: Sequence[str], reachable: Sequence[str]) -> str:
    """The host that writes a test's test.json: its first host still reachable."""
    return next((host for host in test_hosts if host in reachable), "")


def wire_delta(before: object, after: object) -> dict[str, Any]:
    """The wire NIC (wire_nic's ``wire``) with what it counted between two readings; the
    speed is the one read while the link was up (-1 reads as down)."""
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        raise IcperfInputError(f"wire: {before!r} and {after!r} are not two wire_nic readings")
    counted = {}
    for key in WIRE_COUNTERS:
        first, last = before.get(key), after.get(key)
        counted[key] = last - first if isinstance(first, int) and isinstance(last, int) else None
    speeds = [s for s in (after.get("speed_mbps"), before.get("speed_mbps"))
              if isinstance(s, int) and s > 0]  # fmt: skip
    return {**before, **after, **counted, "speed_mbps": speeds[0] if speeds else -1}
