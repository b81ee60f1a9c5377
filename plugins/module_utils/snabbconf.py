"""Settings of the vswitch_snabb role: the Lua program's configuration and Snabb's counters.

Plain functions behind the icperf.lab filters of plugins/filter/icperf_switches.py. Input
errors raise IcperfInputError naming the variable at fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

PROGRAMS = ("learning", "wire")
# A link of Snabb's app network, as the program names it: "c0.tx -> bridge.c0".
_LINK_RE = re.compile(r"^\s*(\w+)\.(\w+)\s*->\s*(\w+)\.(\w+)\s*$")
_COUNTERS = ("txpackets", "txdrop", "rxpackets")


def _ports(ports: object) -> list[Mapping[str, Any]]:
    if not isinstance(ports, list) or not ports:
        raise IcperfInputError(f"icperf_vswitch_ports: {ports!r} must list the test's containers")
    names = set()
    for index, port in enumerate(ports):
        field = f"icperf_vswitch_ports[{index}]"
        if not isinstance(port, Mapping):
            raise IcperfInputError(f"{field}: {port!r} is not a container")
        name, sock = port.get("name"), port.get("sock")
        if not isinstance(name, str) or not name:
            raise IcperfInputError(f"{field}.name: {name!r} is missing")
        if name in names:
            raise IcperfInputError(f"{field}.name: {name} is listed twice")
        names.add(name)
        # The program writes names and paths into JSON without escaping them.
        if not isinstance(sock, str) or not sock.startswith("/") or re.search(r'["\\\s]', sock):
            raise IcperfInputError(
                f"{field}.sock: {sock!r} must be an absolute path without quotes, "
                "backslashes or spaces"
            )
        if re.search(r'["\\]', name):
            raise IcperfInputError(f"{field}.name: {name!r} must not hold quotes or backslashes")
    return ports


def _wires(ports: list[Mapping[str, Any]], apps: dict[str, str]) -> list[list[str]]:
    """Each container's port patched to its peer's, every pair once, in the ports' order."""
    wires: list[list[str]] = []
    paired: set[str] = set()
    for index, port in enumerate(ports):
        name = port["name"]
        if name in paired:
            continue
        peer = port.get("peer")
        if peer is None or port.get("remote"):
            raise IcperfInputError(
                f"icperf_vswitch_ports[{index}].peer: the wire program patches each "
                f"container to its peer on this host, but {name}'s peer is remote"
            )
        if peer not in apps:
            raise IcperfInputError(
                f"icperf_vswitch_ports[{index}].peer: {peer!r} is not one of the test's containers"
            )
        partner = next(p for p in ports if p["name"] == peer)
        if partner.get("peer") != name:
            raise IcperfInputError(
                f"icperf_vswitch_ports[{index}].peer: {name}'s peer {peer} has another peer "
                f"({partner.get('peer')!r})"
            )
        wires.append([apps[name], apps[peer]])
        paired.update((name, peer))
    return wires


def snabb_config(
    ports: object, cores: object, program: object = "learning", counters: object = ""
) -> dict[str, Any]:
    """The configuration icperf_switch.lua reads: ports, program, core, counters file.

    ``ports`` are the test's containers (icperf.lab.lab_containers: name, sock, peer,
    remote); each gets a vhost-user server port named ``c<position>`` (Snabb's app names
    are Lua identifiers). ``cores`` must hold exactly one core: Snabb's engine is one
    process polling on one core. ``program`` is ``learning`` (a learning bridge joining
    every port) or ``wire`` (each container's port patched to its peer's).
    """
    checked = _ports(ports)
    if not isinstance(cores, list) or len(cores) != 1:
        raise IcperfInputError(
            f"icperf_vswitch_cores: {cores!r} must hold exactly one core: Snabb's engine is "
            "one process polling on one core"
        )
    core = cores[0]
    if isinstance(core, str) and core.strip().isdigit():
        core = int(core)
    if isinstance(core, bool) or not isinstance(core, int) or core < 0:
        raise IcperfInputError(f"icperf_vswitch_cores: {core!r} is not a core number")
    if program not in PROGRAMS:
        raise IcperfInputError(
            f"vswitch_snabb_program: {program!r} is not one of {', '.join(PROGRAMS)}"
        )
    if not isinstance(counters, str) or not counters.startswith("/"):
        raise IcperfInputError(
            f"vswitch_snabb_counters_file: {counters!r} must be an absolute path"
        )
    apps = {port["name"]: f"c{index}" for index, port in enumerate(checked)}
    return {
        "program": program,
        "cpu": core,
        "counters": counters,
        "ports": [{"app": apps[p["name"]], "name": p["name"], "sock": p["sock"]} for p in checked],
        "wires": _wires(checked, apps) if program == "wire" else [],
    }


def snabb_check_plans(plans: object, counters: object = "") -> list[str]:
    """The first play's check: snabb_config of every planned test, with its row's program.

    Returns the checked tests' paths; an error names the switch and the test.
    """
    if not isinstance(plans, list):
        raise IcperfInputError(f"plans: {plans!r} is not a list of plans")
    checked = []
    for index, plan in enumerate(plans):
        if not isinstance(plan, Mapping) or not isinstance(plan.get("traits"), Mapping):
            raise IcperfInputError(f"plans[{index}]: {plan!r} is not a plan of plan_tests")
        program = plan["traits"].get("program") or "learning"
        try:
            snabb_config(plan["containers"], plan["switch_cores"], program, counters)
        except IcperfInputError as error:
            raise IcperfInputError(
                f"vswitches: {plan['vswitch']} cannot run {plan['path']}: {error}"
            ) from None
        checked.append(plan["path"])
    return checked


def _counters(counters: object) -> Mapping[str, Any]:
    if isinstance(counters, str):
        try:
            counters = json.loads(counters)
        except ValueError as error:
            raise IcperfInputError(f"counters: not JSON ({error})") from None
    if not isinstance(counters, Mapping) or not isinstance(counters.get("links"), Mapping):
        raise IcperfInputError("counters: no links (not written by icperf_switch.lua)")
    if not isinstance(counters.get("ports"), Mapping):
        raise IcperfInputError("counters: no ports (not written by icperf_switch.lua)")
    return counters


def snabb_port_counters(counters: object) -> dict[str, dict[str, int]]:
    """Per container, what Snabb counted on its port, from the program's counters file.

    ``rx``: frames the switch took from the container's ring; ``rx_dropped``: of those,
    the ones dropped because the next link was full; ``tx``: frames put into the
    container's ring; ``tx_dropped``: frames on their way to the container that were
    dropped on a full link or still queued when the switch stopped. A link between two
    container ports (the wire program) counts as rx of the first and tx of the second.
    """
    found = _counters(counters)
    apps = {}
    for app, port in found["ports"].items():
        if not isinstance(port, Mapping) or not isinstance(port.get("name"), str):
            raise IcperfInputError(f"counters: port {app} has no container name")
        apps[app] = port["name"]
    result = {name: {"rx": 0, "rx_dropped": 0, "tx": 0, "tx_dropped": 0} for name in apps.values()}
    for link, values in found["links"].items():
        match = _LINK_RE.match(link)
        if not match or not isinstance(values, Mapping):
            raise IcperfInputError(f"counters: {link!r} is not a link with counters")
        numbers = {}
        for key in _COUNTERS:
            value = values.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise IcperfInputError(f"counters: {link}.{key}: {value!r} is not a count")
            numbers[key] = value
        source, output, target, input_ = match.groups()
        if source in apps and output == "tx":
            port = result[apps[source]]
            port["rx"] += numbers["txpackets"] + numbers["txdrop"]
            # Between two container ports a full link is the receiving side's loss.
            if target not in apps:
                port["rx_dropped"] += numbers["txdrop"]
        if target in apps and input_ == "rx":
            port = result[apps[target]]
            port["tx"] += numbers["rxpackets"]
            port["tx_dropped"] += numbers["txdrop"] + numbers["txpackets"] - numbers["rxpackets"]
    return result
