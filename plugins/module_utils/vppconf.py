"""Settings of the vswitch_vpp role: its startup.conf values, the exec script, the counters.

Plain functions behind the icperf.lab filters of plugins/filter/icperf_switches.py. Input
errors raise IcperfInputError naming the variable at fault. The grammar of what they
produce is VPP's (startup.conf sections, CLI commands), checked by tests/unit/test_vpp_conf.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.addresses import parse_pci
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

# VPP names a vhost-user interface after its device instance, which "renumber" fixes, so
# the exec script can refer to the interfaces it creates.
VHOST_IFNAME = "VirtualEthernet0/0/{}"
# Characters VPP's unformat reads as one word (paths, names) in a CLI line or startup.conf.
_WORD_RE = re.compile(r"^[^\s{}]+$")
_DPDK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_./-]{0,62}$")


def _int(value: object, field: str, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise IcperfInputError(f"{field}: {value!r} must be an integer {bounds}")
    return value


def _word(value: object, field: str) -> str:
    if not isinstance(value, str) or not _WORD_RE.match(value):
        raise IcperfInputError(f"{field}: {value!r} must be one word (no spaces or braces)")
    return value


def corelist(cores: list[int]) -> str:
    """VPP's corelist: ranges of consecutive cores, comma-separated (``1-3,5``)."""
    ranges: list[str] = []
    ordered = sorted(set(cores))
    start = previous = ordered[0]
    for core in [*ordered[1:], None]:
        if core is not None and core == previous + 1:
            previous = core
            continue
        ranges.append(str(start) if start == previous else f"{start}-{previous}")
        if core is not None:
            start = previous = core
    return ",".join(ranges)


def vpp_plan(
    ports: object,
    cores: object,
    main_core: object = 0,
    physical_ports: object = None,
    bridge_domain: object = 1,
) -> dict[str, Any]:
    """What VPP runs for a test: its cores, one vhost-user interface per container, NICs.

    ``ports`` are the test's containers (icperf.lab.lab_containers: name, sock); VPP
    creates each container's socket as the vhost-user server and names the interface
    VirtualEthernet0/0/<position>. ``cores`` are the worker cores (corelist-workers),
    ``main_core`` the main thread's core, which must not be one of them.
    ``physical_ports`` ({pci, name}) are DPDK NICs joining the bridge domain, for
    containers on two hosts.
    """
    if not isinstance(ports, list) or not ports:
        raise IcperfInputError(f"icperf_vswitch_ports: {ports!r} must list the test's containers")
    if not isinstance(cores, list) or not cores:
        raise IcperfInputError(f"icperf_vswitch_cores: {cores!r} must list at least one core")
    workers = [_int(core, f"icperf_vswitch_cores[{i}]") for i, core in enumerate(cores)]
    if len(set(workers)) != len(workers):
        raise IcperfInputError(f"icperf_vswitch_cores: {cores!r} lists a core twice")
    main = _int(main_core, "vswitch_vpp_main_core")
    if main in workers:
        raise IcperfInputError(
            f"vswitch_vpp_main_core: core {main} is also a worker core (icperf_vswitch_cores "
            f"{workers}); VPP's main thread needs a core of its own"
        )
    domain = _int(bridge_domain, "vswitch_vpp_bridge_domain", 1, 16777215)
    interfaces = []
    seen: dict[str, str] = {}
    for index, port in enumerate(ports):
        field = f"icperf_vswitch_ports[{index}]"
        if not isinstance(port, Mapping) or not isinstance(port.get("name"), str):
            raise IcperfInputError(f"{field}.name: missing")
        sock = _word(port.get("sock"), f"{field}.sock")
        if not sock.startswith("/"):
            raise IcperfInputError(f"{field}.sock: {sock!r} is not an absolute path")
        if sock in seen:
            raise IcperfInputError(f"{field}.sock: {sock} is also {seen[sock]}'s socket")
        seen[sock] = port["name"]
        interfaces.append(
            {"container": port["name"], "sock": sock, "instance": index,
             "ifname": VHOST_IFNAME.format(index)}
        )  # fmt: skip
    physical = []
    for index, nic in enumerate(physical_ports or []):
        field = f"vswitch_vpp_physical_ports[{index}]"
        if not isinstance(nic, Mapping):
            raise IcperfInputError(f"{field}: {nic!r} must be {{pci, name}}")
        name = nic.get("name")
        if not isinstance(name, str) or not _DPDK_NAME_RE.match(name):
            raise IcperfInputError(f"{field}.name: {name!r} is not an interface name")
        physical.append({"pci": parse_pci(nic.get("pci"), f"{field}.pci"), "name": name})
    return {
        "main_core": main,
        "workers": corelist(workers),
        "bridge_domain": domain,
        "interfaces": interfaces,
        "physical": physical,
    }


def vpp_exec_commands(plan: object) -> list[str]:
    """The CLI lines of the exec script VPP runs at startup, in order.

    A bridge domain with learning, forwarding and flooding (a learning switch); a
    vhost-user server interface per container, then each NIC, joined to the domain and
    brought up.
    """
    if not isinstance(plan, Mapping) or "interfaces" not in plan:
        raise IcperfInputError(f"plan: {plan!r} is not a vpp_plan")
    domain = plan["bridge_domain"]
    lines = [f"create bridge-domain {domain} learn 1 forward 1 uu-flood 1 flood 1 arp-term 0"]
    members = []
    for interface in plan["interfaces"]:
        lines.append(
            f"create vhost-user socket {interface['sock']} server renumber {interface['instance']}"
        )
        members.append(interface["ifname"])
    members += [nic["name"] for nic in plan.get("physical", [])]
    for ifname in members:
        lines.append(f"set interface l2 bridge {ifname} {domain}")
        lines.append(f"set interface state {ifname} up")
    return lines


def vpp_interface_counters(text: object, plan: object = None) -> dict[str, dict[str, int]]:
    """Counters of ``vppctl show interface``, per interface (or per container with ``plan``).

    The first line of an interface gives its name, index, state and MTU, then its first
    counter; the following indented lines one counter each ("rx packets 7").
    """
    if not isinstance(text, str):
        raise IcperfInputError(f"counters: {text!r} is not vppctl's output")
    found: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] == "Name" or line.startswith("vpp#"):
            continue
        if not line[0].isspace() or (len(words) >= 4 and words[1].isdigit() and "/" in words[3]):
            # name, index, state, MTU (L3/IP4/IP6/MPLS), then maybe a counter
            if len(words) < 4 or not words[1].isdigit():
                raise IcperfInputError(f"counters: {line.strip()!r} is not an interface line")
            current = found.setdefault(words[0], {})
            words = words[4:]
        if not words:
            continue
        if current is None or len(words) < 2 or not words[-1].isdigit():
            raise IcperfInputError(f"counters: {line.strip()!r} is not a counter line")
        current[" ".join(words[:-1])] = int(words[-1])
    if plan is None:
        return found
    if not isinstance(plan, Mapping) or "interfaces" not in plan:
        raise IcperfInputError(f"plan: {plan!r} is not a vpp_plan")
    return {i["container"]: found.get(i["ifname"], {}) for i in plan["interfaces"]}
