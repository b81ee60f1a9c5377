"""One test planned once: everything the playbook needs to carry it out.

``plan_test`` turns a test of the matrix, the parsed lab, the host's cores and the run's
settings into the containers (cores, addresses, attachment, final argv, LXC wiring), the
switch's role and cores, the poller settings, and the test.json skeleton. The playbook only
carries the plan out; it never decides anything about a switch itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.command import icperf_command
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labfile import place_lab
from ansible_collections.icperf.lab.plugins.module_utils.params import FLAGS, parse_bool
from ansible_collections.icperf.lab.plugins.module_utils.vswitches import (
    APPLETS_DPDK,
    ATTACH_VETH,
    ATTACH_VF_NETDEV,
    ATTACH_VF_PCI,
    ATTACH_VHOST_USER,
    traits,
)

RECORD_VERSION = 1
ACTIVE_APPS = ("send", "client")
DEFAULT_SETTINGS: dict[str, Any] = {
    "socket_dir": "/run/icperf/vhost",
    "hugepages_dir": "/dev/hugepages",
    "binary": "/usr/local/bin/icperf",
    # Memory reserved up front: DPDK growing its memory in pieces makes more regions than
    # vhost-user can map, and the virtio_user port fails to initialise.
    "eal_args": ["-m", "256"],
    # Receivers outlive the senders by this much; they are stopped once the senders are
    # done, so the margin only matters if the playbook dies mid-test.
    "receiver_extra_seconds": 60,
    # A receiver whose sender is on another host waits, besides, through the controller's
    # turns on every host of the test (each step's SSH round trip and module start there).
    "receiver_extra_seconds_across_hosts": 600,
    # Descriptors per queue of the dpdk- applets: the applets' own default when every
    # poller has a core to itself; deep rings when pollers share cores, since a poller
    # that waits for its time slice must find room for everything that arrived meanwhile
    # (1024 entries collapse sender -> testpmd -> receiver to ~145 kpps on 2 cores).
    "ring": 1024,
    "shared_ring": 16384,
}


def _settings(given: object) -> dict[str, Any]:
    if given is None:
        return dict(DEFAULT_SETTINGS)
    if not isinstance(given, Mapping):
        raise IcperfInputError(f"settings: {given!r} is not a mapping")
    unknown = sorted(set(given) - set(DEFAULT_SETTINGS))
    if unknown:
        raise IcperfInputError(
            f"settings.{unknown[0]}: unknown (known: {', '.join(DEFAULT_SETTINGS)})"
        )
    return {**DEFAULT_SETTINGS, **given}


def _host(host: object) -> tuple[object, object, object]:
    if not isinstance(host, Mapping) or "cores" not in host:
        raise IcperfInputError(f"host: {host!r} needs cores (and may give siblings, reserved)")
    return host["cores"], host.get("reserved", [0]), host.get("siblings")


def _wiring(
    attach: str, settings: Mapping[str, Any], needs_hugepages: bool, xdp: bool = False
) -> dict[str, Any]:
    """How LXC wires a container for an attachment kind (the lxc role's inputs)."""
    return {
        # veth: joined to the link the switch role publishes when it starts.
        "net": {ATTACH_VETH: "veth", ATTACH_VF_NETDEV: "phys"}.get(attach, "empty"),
        "socket_dir": settings["socket_dir"] if attach == ATTACH_VHOST_USER else "",
        "hugepages_dir": settings["hugepages_dir"] if needs_hugepages else "",
        # The dpdk- applets are linked against the host's DPDK and load its drivers at run
        # time: they need the host's /usr.
        "host_usr": needs_hugepages,
        # Resolving the peer's MAC and letting a learning switch see both ports first is
        # only possible, and only needed, where the container has a kernel netdev.
        "prime_peer": attach in (ATTACH_VETH, ATTACH_VF_NETDEV),
        # AF_XDP (-X): the applet locks its frame memory and loads an XDP program; lxcconf
        # keeps every capability that takes.
        "xdp": xdp,
        # DPDK in the container opens its VF through VFIO: the VFIO device and the VF's
        # IOMMU group (found on the host when the container is defined) are bound in.
        "vfio": attach == ATTACH_VF_PCI,
    }


def plan_test(
    test: Mapping[str, Any],
    params: Mapping[str, Any],
    lab: object,
    host: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Plan ``test`` (a test_matrix item) of a run with ``params`` (check_test_params).

    ``lab`` is the content of the test's lab file, ``host`` {cores, reserved, siblings, name,
    lab_hosts, wire_ports} (cores as /sys/devices/system/cpu/online gives them; lab_hosts, the
    run's inventory hosts: only the containers placed on ``name`` are planned; wire_ports, the
    VFs of the NIC cabled to the other host, see place_lab), ``settings`` overrides
    DEFAULT_SETTINGS. See docs/architecture.md for the plan's fields.
    """
    if not isinstance(test, Mapping) or "identity" not in test:
        raise IcperfInputError(f"test: {test!r} is not a test_matrix item")
    if not isinstance(params, Mapping):
        raise IcperfInputError(f"params: {params!r} is not a mapping")
    conf = _settings(settings)
    row = traits(test.get("vswitch"))
    cores, reserved, siblings = _host(host)
    lab_hosts = host.get("lab_hosts")
    if lab_hosts is not None and not isinstance(lab_hosts, list):
        raise IcperfInputError(f"host.lab_hosts: {lab_hosts!r} is not a list of host names")
    wire_ports = host.get("wire_ports")
    if wire_ports is not None and (
        not isinstance(wire_ports, list) or not all(isinstance(p, str) for p in wire_ports)
    ):
        raise IcperfInputError(f"host.wire_ports: {wire_ports!r} is not a list of PCI addresses")
    containers, switch_cores = place_lab(
        lab, cores, reserved, test["switch_cores"], row.name, conf["socket_dir"], siblings,
        test.get("dimension"), host.get("name"), lab_hosts, wire_ports,
    )  # fmt: skip
    flags = {
        flag: False if params.get(flag) is None else parse_bool(params[flag], flag)
        for flag in FLAGS
    }
    dpdk = row.applets == APPLETS_DPDK
    shared = any(bool(c["shared_cores"]) for c in containers)
    # Busy pollers: the switch's cores and every applet that does not sleep in the kernel.
    pollers_share = shared and (dpdk or row.polls or not flags["blocking"])
    poller_settings: dict[str, Any] = {}
    if dpdk:
        poller_settings["ring"] = conf["shared_ring"] if shared else conf["ring"]

    duration = int(test["identity"]["duration"])
    command_params = {
        **flags,
        **{key: test[key] for key in ("vswitch", "pkt_size", "burst", "rate")},
        "eal_args": list(conf["eal_args"]) if dpdk else [],
        **poller_settings,
    }
    wiring = _wiring(row.attach, conf, row.hugepages, flags["xdp"])
    planned = []
    for container in containers:
        active = container["app"] in ACTIVE_APPS
        margin = 0 if active else int(
            conf["receiver_extra_seconds_across_hosts" if container.get("remote")
                 else "receiver_extra_seconds"]
        )  # fmt: skip
        argv = icperf_command(
            container, command_params, duration + margin, binary=str(conf["binary"])
        )
        planned.append({**container, "argv": argv, "active": active, "wiring": wiring})

    record = {
        "v": RECORD_VERSION,
        "id": test["path"],
        "params": {**test["identity"], "lab_file": test["lab"]},
        "settings": poller_settings,
        "apps": [
            {
                "container": c["name"], "app": c["app"], "peer": c.get("peer_name", c["peer"]),
                "host": c["host"] or host.get("name"), "cpus": c["cpus"],
                "shared_cores": c["shared_cores"], "command": c["argv"],
                "log": f"{c['name']}.{c['app']}.jsonl",
            }
            for c in planned
        ],
    }  # fmt: skip
    return {
        "id": test["path"],
        "path": test["path"],
        "identity": dict(test["identity"]),
        "index": test.get("index"),
        "total": test.get("total"),
        "vswitch": row.name,
        "traits": row.as_dict(),
        "role": row.role,
        "hugepages": row.hugepages,
        "containers": planned,
        "switch_cores": switch_cores,
        "shared_cores": shared,
        "pollers_share_cores": pollers_share,
        "settings": poller_settings,
        "duration": duration,
        "record": record,
    }


def shared_core_warnings(plans: list[Mapping[str, Any]]) -> list[str]:
    """One line per planned test whose busy pollers share cores (they measure the scheduler)."""
    if not isinstance(plans, list):
        raise IcperfInputError(f"plans: {plans!r} is not a list of plans")
    return [
        f"{plan['path']}: busy pollers share cores ("
        + ", ".join(f"{c['name']} on {c['cpus']}" for c in plan["containers"])
        + (f", switch on {plan['switch_cores']}" if plan["switch_cores"] else "")
        + "): its figures measure the scheduler as much as the switch"
        for plan in plans
        if plan["pollers_share_cores"]
    ]


def plan_tests(
    tests: list[Mapping[str, Any]],
    params: Mapping[str, Any],
    labs: Mapping[str, object],
    host: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """plan_test for every test of a run, the labs read once (read_labs)."""
    if not isinstance(labs, Mapping):
        raise IcperfInputError(f"labs: {labs!r} is not a mapping of lab file to content")
    if not isinstance(tests, list):
        raise IcperfInputError(f"tests: {tests!r} is not a list of test_matrix items")
    plans = []
    for test in tests:
        if test.get("lab") not in labs:
            raise IcperfInputError(f"labs: {test.get('lab')} was not read (read_labs)")
        try:
            plans.append(plan_test(test, params, labs[test["lab"]], host, settings))
        except IcperfInputError as error:
            raise IcperfInputError(f"{error} (test {test.get('path')})") from None
    return plans
