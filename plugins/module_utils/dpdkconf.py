"""Settings of the DPDK switch roles: port pairs, testpmd's argv, OVS's other_config, memory.

Plain functions behind the icperf.lab filters of plugins/filter/icperf_roles.py; the
roles keep only the order of the steps. Input errors raise IcperfInputError naming the
role variable at fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ansible_collections.icperf.lab.plugins.module_utils.addresses import parse_pci
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

# other_config keys vswitch_ovs manages. All but pmd-cpu-mask are read once, when
# ovs-vswitchd initialises DPDK: changing one of them means restarting ovs-vswitchd.
OVS_MANAGED_KEYS = (
    "dpdk-init",
    "dpdk-lcore-mask",
    "dpdk-socket-mem",
    "dpdk-extra",
    "per-port-memory",
    "pmd-cpu-mask",
)
OVS_RUNTIME_KEYS = ("pmd-cpu-mask",)
NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"

_PLAIN_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _int(value: object, field: str, minimum: int = 0) -> int:
    """An integer (or its decimal string, as -e key=value passes it) >= ``minimum``."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise IcperfInputError(f"{field}: {value!r} must be an integer >= {minimum}")
    return value


def _cores(value: object, field: str) -> list[int]:
    if not isinstance(value, list | tuple) or not value:
        raise IcperfInputError(f"{field}: {value!r} must list at least one core")
    return [_int(core, f"{field}[{index}]") for index, core in enumerate(value)]


def _plain_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not _PLAIN_NAME_RE.match(value):
        raise IcperfInputError(f"{field}: {value!r} must be letters, digits, '_', '.', '-'")
    return value


def _ifname(value: object, field: str) -> str:
    if not isinstance(value, str) or not _IFNAME_RE.match(value):
        raise IcperfInputError(
            f"{field}: {value!r} is not an interface name (1 to 15 letters, digits, '_', '.', '-')"
        )
    return value


def _strings(value: object, field: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise IcperfInputError(f"{field}: {value!r} must be a list of strings")
    return list(value)


def _ports(ports: object) -> list[Mapping[str, object]]:
    """The switch's containers: at least one, each with a name and an absolute socket path."""
    field = "icperf_vswitch_ports"
    if not isinstance(ports, list | tuple) or not ports:
        raise IcperfInputError(f"{field}: must list the test's containers (got {ports!r})")
    for index, port in enumerate(ports):
        if not isinstance(port, Mapping):
            raise IcperfInputError(f"{field}[{index}]: {port!r} is not a container")
        if not isinstance(port.get("name"), str) or not port["name"]:
            raise IcperfInputError(f"{field}[{index}].name: missing")
        sock = port.get("sock")
        if not isinstance(sock, str) or not sock.startswith("/"):
            raise IcperfInputError(
                f"{field}[{index}].sock: {sock!r} is not an absolute path (vhost-user socket)"
            )
    return list(ports)


def cpu_mask(cores: object, field: str = "cores") -> str:
    """Hexadecimal mask of ``cores``, as DPDK and OVS take it: [1, 3] -> '0xa'."""
    mask = 0
    for core in _cores(cores, field):
        mask |= 1 << core
    return f"0x{mask:x}"


def parse_setting(value: object, field: str) -> bool | str:
    """true, false or 'auto' (Ansible's spellings of booleans are accepted)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if text == "auto":
        return "auto"
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise IcperfInputError(f"{field}: {value!r} must be true, false or auto")


def hugepages_meminfo(meminfo: object) -> dict[str, int]:
    """The hugepage lines of /proc/meminfo: page counts, page size and free memory in MB.

    A kernel without hugetlb support has none of them: everything is 0.
    """
    if not isinstance(meminfo, str):
        raise IcperfInputError(f"meminfo: {meminfo!r} is not the text of /proc/meminfo")
    found = dict(re.findall(r"^(HugePages_\w+|Hugepagesize):\s+(\d+)", meminfo, re.M))
    info = {
        "total": int(found.get("HugePages_Total", 0)),
        "free": int(found.get("HugePages_Free", 0)),
        "surplus": int(found.get("HugePages_Surp", 0)),
        "size_kb": int(found.get("Hugepagesize", 0)),
    }
    info["free_mb"] = info["free"] * info["size_kb"] // 1024
    return info


def use_hugepages(setting: object, meminfo: object, needed_mb: object, field: str) -> bool:
    """Whether a switch takes its memory from hugepages.

    ``setting`` is the role's variable ``field``: true, false, or auto (hugepages when at
    least ``needed_mb`` MB of them are free; ``meminfo`` is /proc/meminfo, read only then).
    """
    choice = parse_setting(setting, field)
    if choice != "auto":
        return bool(choice)
    return hugepages_meminfo(meminfo)["free_mb"] >= _int(needed_mb, "needed_mb")


def basicfwd_plan(ports: object, physical_ports: object = ()) -> dict[str, list[object]]:
    """testpmd's ports and the --portlist that makes --port-topology=paired forward pairs.

    testpmd numbers physical ports first (PCI address order), then the vhost-user vdevs
    in the order given. Consecutive --portlist entries are forwarded to each other: every
    container with its peer (send<->recv, client<->server), then each container whose
    peer is not in the list (on another host) with the next physical port. Returns
    {'ports': [{port, name, sock, pci}], 'portlist': [port numbers]}.
    """
    containers = _ports(ports)
    if not isinstance(physical_ports, list | tuple):
        raise IcperfInputError(
            f"vswitch_basicfwd_physical_ports: {physical_ports!r} must be a list of PCI addresses"
        )
    pci = sorted(
        parse_pci(address, f"vswitch_basicfwd_physical_ports[{index}]")
        for index, address in enumerate(physical_ports)
    )
    by_name = {str(port["name"]): port for port in containers}
    seen: set[str] = set()
    pairs: list[tuple[Mapping[str, object], Mapping[str, object]]] = []
    lone: list[Mapping[str, object]] = []
    errors: list[str] = []
    for port in containers:
        name = str(port["name"])
        if name in seen:
            continue
        peer = port.get("peer")
        if isinstance(peer, str) and peer in by_name and peer != name:
            other = by_name[peer]
            if other.get("peer") != name or peer in seen:
                errors.append(f"{name}'s peer {peer} has another peer")
            seen.update((name, peer))
            pairs.append((port, other))
        else:
            seen.add(name)
            lone.append(port)
    if len(lone) > len(pci):
        names = ", ".join(str(port["name"]) for port in lone[len(pci):])
        errors.append(
            f"no physical port left for {names} (their peers are remote): list DPDK-bound NICs "
            "in vswitch_basicfwd_physical_ports"
        )
    if errors:
        raise IcperfInputError("icperf_vswitch_ports: " + "; ".join(errors))
    if len(pci) > len(lone):
        raise IcperfInputError(
            f"vswitch_basicfwd_physical_ports: {', '.join(pci[len(lone):])} have no container "
            "with a remote peer to pair with"
        )
    vhost = [port for pair in pairs for port in pair] + lone
    table: list[object] = [
        {"port": number, "name": None, "sock": None, "pci": address}
        for number, address in enumerate(pci)
    ]
    table += [
        {"port": len(pci) + index, "name": port["name"], "sock": port["sock"], "pci": None}
        for index, port in enumerate(vhost)
    ]
    portlist: list[object] = [len(pci) + index for index in range(2 * len(pairs))]
    for index in range(len(lone)):
        portlist += [index, len(pci) + 2 * len(pairs) + index]
    return {"ports": table, "portlist": portlist}


def testpmd_argv(
    plan: object,
    cores: object,
    testpmd: object = "/usr/bin/dpdk-testpmd",
    main_core: object = 0,
    file_prefix: object = "icperf-basicfwd",
    hugepages: object = True,
    memory_mb: object = 512,
    ring_size: object = 16384,
    mbufs: object = 0,
    stats_period: object = 5,
    extra_args: object = (),
) -> list[str]:
    """testpmd's command line: io forwarding between the pairs of ``plan`` (basicfwd_plan).

    One forwarding lcore per core of ``cores`` (the main lcore, statistics only, on
    ``main_core``). Without NICs EAL gets --no-pci and IOVA as VA: in PA mode a memzone
    larger than one 2 MB page needs physically contiguous pages, which the kernel gives or
    not depending on fragmentation. With ``hugepages`` the memory comes from them
    (--in-memory: no files left in any hugetlbfs mount), else from ordinary pages. An
    ``mbufs`` of 0 sizes the pool: 32768 for the vhost-user ports, which keep no mbufs in
    their rings, plus rx and tx rings' worth for every physical port.
    """
    if not isinstance(plan, Mapping) or not isinstance(plan.get("ports"), list):
        raise IcperfInputError(f"plan: {plan!r} is not a basicfwd_plan result")
    forwarding = _cores(cores, "icperf_vswitch_cores")
    if not isinstance(testpmd, str) or not testpmd.startswith("/"):
        raise IcperfInputError(f"vswitch_basicfwd_testpmd: {testpmd!r} is not an absolute path")
    main = _int(main_core, "vswitch_basicfwd_main_core")
    prefix = _plain_name(file_prefix, "vswitch_basicfwd_file_prefix")
    memory = _int(memory_mb, "vswitch_basicfwd_memory_mb", 1)
    ring = _int(ring_size, "vswitch_basicfwd_ring_size", 64)
    pool = _int(mbufs, "vswitch_basicfwd_mbufs")
    period = _int(stats_period, "vswitch_basicfwd_stats_period")
    extra = _strings(extra_args, "vswitch_basicfwd_extra_args")
    vhost = [port for port in plan["ports"] if port.get("sock")]
    pci = [port["pci"] for port in plan["ports"] if port.get("pci")]
    lcores = [f"0@{main}"] + [f"{index}@{core}" for index, core in enumerate(forwarding, 1)]
    argv = [testpmd, "--lcores=" + ",".join(lcores), "--main-lcore=0"]
    argv += [f"--file-prefix={prefix}", "-v"]
    argv += [f"--allow={address}" for address in pci] if pci else ["--no-pci", "--iova-mode=va"]
    argv += ["--in-memory", "--single-file-segments"] if hugepages else ["--no-huge"]
    argv.append(f"-m{memory}")
    argv += [
        f"--vdev=net_vhost{index},iface={port['sock']},queues=1,client=0"
        for index, port in enumerate(vhost)
    ]
    argv += [
        "--",
        "--forward-mode=io",
        "--auto-start",
        f"--stats-period={period}",
        f"--rxd={ring}",
        f"--txd={ring}",
        f"--total-num-mbufs={pool or 32768 + 2 * len(pci) * ring}",
        f"--nb-cores={len(forwarding)}",
        "--port-topology=paired",
        "--portlist=" + ",".join(str(port) for port in plan.get("portlist", [])),
    ]
    return argv + extra


def ovs_other_config(
    cores: object,
    main_core: object = 0,
    socket_mem: object = 1024,
    hugepages: object = True,
    no_huge_memory_mb: object = 1024,
    file_prefix: object = "icperf-ovs",
    physical_port: object = None,
    extra_args: object = (),
) -> dict[str, str | None]:
    """The other_config values vswitch_ovs sets (None: the key is removed).

    EAL gets --no-pci unless a NIC is named: it would otherwise probe every NIC of the
    host, including VFs bound to vfio-pci for other tests. Without hugepages OVS needs
    --no-huge with --legacy-mem (it adds --in-memory otherwise, which fails).
    """
    pmd_mask = cpu_mask(cores, "icperf_vswitch_cores")
    lcore_mask = cpu_mask([_int(main_core, "vswitch_ovs_main_core")], "vswitch_ovs_main_core")
    memory = _int(socket_mem, "vswitch_ovs_socket_mem", 1)
    no_huge = _int(no_huge_memory_mb, "vswitch_ovs_no_huge_memory_mb", 1)
    prefix = _plain_name(file_prefix, "vswitch_ovs_file_prefix")
    nic = ovs_physical_port(physical_port)
    eal = [f"--file-prefix={prefix}"]
    eal += [f"--allow={nic['pci']}"] if nic else ["--no-pci"]
    eal += [] if hugepages else ["--no-huge", "-m", str(no_huge), "--legacy-mem"]
    eal += _strings(extra_args, "vswitch_ovs_dpdk_extra_args")
    return {
        "dpdk-init": "true",
        "dpdk-lcore-mask": lcore_mask,
        "dpdk-socket-mem": str(memory) if hugepages else None,
        "dpdk-extra": " ".join(eal),
        "per-port-memory": "true",
        "pmd-cpu-mask": pmd_mask,
    }


def ovs_physical_port(value: object) -> dict[str, str] | None:
    """vswitch_ovs_physical_port: null or {name, pci} of a DPDK-bound NIC."""
    field = "vswitch_ovs_physical_port"
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise IcperfInputError(f"{field}: {value!r} must be null or {{name, pci}}")
    return {
        "name": _ifname(value.get("name"), f"{field}.name"),
        "pci": parse_pci(value.get("pci"), f"{field}.pci"),
    }


def _ovsdb_datum(value: object) -> object:
    """An OVSDB JSON datum as plain data: maps to dicts, sets to lists, empty sets to None."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, content = value
        if kind == "map":
            return {str(k): _ovsdb_datum(v) for k, v in content}
        if kind == "set":
            items = [_ovsdb_datum(item) for item in content]
            return items or None
        if kind in ("uuid", "named-uuid"):
            return content
    return value


def ovs_status(stdout: object) -> dict[str, object]:
    """The Open_vSwitch row from ``ovs-vsctl --format=json list Open_vSwitch`` (any columns).

    other_config comes back as a dict, dpdk_initialized as a bool, the versions as
    strings ('' when unset).
    """
    try:
        table = json.loads(stdout) if isinstance(stdout, str) else None
        row = dict(zip(table["headings"], table["data"][0], strict=True))
    except (ValueError, TypeError, KeyError, IndexError):
        raise IcperfInputError(f"ovs-vsctl: {stdout!r} is not one Open_vSwitch row") from None
    status = {column: _ovsdb_datum(value) for column, value in row.items()}
    if "other_config" in status:
        status["other_config"] = status["other_config"] or {}
    if "dpdk_initialized" in status:
        status["dpdk_initialized"] = status["dpdk_initialized"] is True
    for column in ("ovs_version", "dpdk_version"):
        if column in status:
            status[column] = status[column] if isinstance(status[column], str) else ""
    return status


def _other_config(status: object) -> Mapping[str, object]:
    if not isinstance(status, Mapping) or not isinstance(status.get("other_config"), Mapping):
        raise IcperfInputError(f"status: {status!r} is not an ovs_status result")
    return status["other_config"]


def ovs_config_args(status: object, target: object) -> list[str]:
    """ovs-vsctl arguments that give the keys of ``target`` its values (None: removed).

    Only keys whose value differs from the ``status`` (ovs_status) are touched, in the
    order of OVS_MANAGED_KEYS (other keys after them, sorted).
    """
    current = _other_config(status)
    if not isinstance(target, Mapping):
        raise IcperfInputError(f"other_config: {target!r} is not a mapping")
    order = [key for key in OVS_MANAGED_KEYS if key in target]
    order += sorted(key for key in target if key not in OVS_MANAGED_KEYS)
    args: list[str] = []
    for key in order:
        value = target[key]
        if value == current.get(key):
            continue
        if value is None:
            args += ["--", "remove", "Open_vSwitch", ".", "other_config", key]
        else:
            args += ["--", "set", "Open_vSwitch", ".", f"other_config:{key}={json.dumps(value)}"]
    return args


def ovs_daemon_ops(ops: object) -> list[dict[str, object]]:
    """Starts and stops of OVS daemons, [[daemon, started | stopped], ...], spelled out.

    Each becomes {daemon, state (for systemd), ctl_args (for ovs-ctl)}; ovs-ctl gets the
    options Debian's systemd units use.
    """
    if not isinstance(ops, list | tuple):
        raise IcperfInputError(f"ops: {ops!r} is not a list of [daemon, state]")
    spelled: list[dict[str, object]] = []
    for index, op in enumerate(ops):
        if (
            not isinstance(op, list | tuple)
            or len(op) != 2
            or op[0] not in ("ovsdb-server", "ovs-vswitchd")
            or op[1] not in ("started", "stopped")
        ):
            raise IcperfInputError(
                f"ops[{index}]: {op!r} is not [ovsdb-server | ovs-vswitchd, started | stopped]"
            )
        daemon, state = op
        only = ["--no-ovs-vswitchd"] if daemon == "ovsdb-server" else ["--no-ovsdb-server"]
        if state == "started":
            action = ["--no-monitor", "--system-id=random", "--no-record-hostname", "start"]
        else:
            action = ["stop"]
        spelled.append({"daemon": daemon, "state": state, "ctl_args": only + action})
    return spelled


def ovs_start_plan(status: object, want: object, vswitchd_up: object) -> dict[str, object]:
    """What start changes in OVS, given the database's row (ovs_status) and ovs_other_config.

    Returns 'save' (the managed values found, and whether a running ovs-vswitchd gets
    restarted: saved before anything changes), 'args' (for ovs-vsctl --no-wait), 'keys'
    (the keys that change), 'restart' (DPDK settings are read once, when ovs-vswitchd
    initialises DPDK; pmd-cpu-mask alone is applied live) and 'daemon_ops' for
    ovs-vswitchd.
    """
    current = _other_config(status)
    if not isinstance(want, Mapping):
        raise IcperfInputError(f"other_config: {want!r} is not a mapping")
    running = vswitchd_up is True
    keys = [key for key in want if want[key] != current.get(key)]
    initialized = isinstance(status, Mapping) and status.get("dpdk_initialized") is True
    restart = not initialized or any(key not in OVS_RUNTIME_KEYS for key in keys)
    save: dict[str, object] = {"other_config": {key: current.get(key) for key in want}}
    if running and restart:
        save["restarted"] = True
    ops = [["ovs-vswitchd", "stopped"]] if running and restart else []
    if not running or restart:
        ops.append(["ovs-vswitchd", "started"])
    return {
        "save": save,
        "args": ovs_config_args(status, want),
        "keys": keys,
        "restart": restart,
        "daemon_ops": ops,
    }


def _saved_set(saved: Mapping[str, object], *keys: str) -> list[str]:
    """Bridges or sockets start saved: {item: true} (or an older state's name or list)."""
    found: list[str] = []
    for key in keys:
        value = saved.get(key)
        if isinstance(value, Mapping | list):
            found += [str(item) for item in value]
        elif isinstance(value, str):
            found.append(value)
    return list(dict.fromkeys(found))


def ovs_stop_plan(
    saved: object,
    ovsdb_up: object,
    vswitchd_up: object,
    manager: object = "ovs-ctl",
    bridge: object = "icperf-br0",
    file_prefix: object = "icperf-ovs",
) -> dict[str, object]:
    """What stop does to leave OVS as start found it, from the state start saved.

    ``saved`` is the state file's content ({} when start never ran: then only the bridge
    is deleted). A start killed before ovsdb-server answered saved no other_config, so
    none is put back. A daemon start found running comes back if it died; ovsdb-server
    is started for the time stop needs it (the bridge and the other_config values are in
    its database) and stopped again if start had started it. Returns 'before_ops'
    (daemons started first, as [daemon, state]), 'del_br' (ovs-vsctl command deleting
    the bridges, empty when ovsdb-server is not there to ask), 'other_config' (values to
    put back), 'after_ops', the daemons' state at the end ('ovsdb_up_end',
    'vswitchd_up_end'), 'stale' (file patterns in OVS's run directory that killed daemons
    leave) and 'remove' (sockets and DPDK runtime directory).
    """
    if not isinstance(saved, Mapping):
        raise IcperfInputError(f"saved: {saved!r} is not the saved state of vswitch_ovs")
    db_up, switch_up = ovsdb_up is True, vswitchd_up is True
    systemd = manager == "systemd"
    prefix = _plain_name(file_prefix, "vswitch_ovs_file_prefix")
    bridges = _saved_set(saved, "bridges", "bridge") or [_ifname(bridge, "vswitch_ovs_bridge")]
    other_config = saved.get("other_config")
    other_config = {} if other_config is None else other_config
    if not isinstance(other_config, Mapping):
        raise IcperfInputError(f"saved.other_config: {other_config!r} is not a mapping")
    before_ops: list[object] = []
    after_ops: list[object] = []
    stale: list[str] = []
    remove: list[str] = []
    db_now, db_end, switch_end = db_up, db_up, switch_up
    if saved:
        # Missing flags (a hand-written state file) leave that daemon as it is now.
        db_was = saved.get("ovsdb_was_running", db_up) is True
        switch_was = saved.get("vswitchd_was_running", switch_up) is True
        restarted = saved.get("restarted") is True
        # Without other_config no start got as far as changing OVS's database.
        if not db_up and (db_was or "other_config" in saved):
            before_ops.append(["ovsdb-server", "started"])
            db_now = True
        if (not switch_was or restarted) and (switch_up or systemd):
            after_ops.append(["ovs-vswitchd", "stopped"])
        if switch_was and (restarted or not switch_up):
            after_ops.append(["ovs-vswitchd", "started"])
        if not db_was and (db_now or systemd):
            after_ops.append(["ovsdb-server", "stopped"])
        db_end, switch_end = db_was, switch_was
        if not switch_end:
            stale += ["ovs-vswitchd.pid", "ovs-vswitchd.*.ctl"]
            for name in bridges:
                stale += [f"{name}.mgmt", f"{name}.snoop"]
        if not db_end:
            stale += ["ovsdb-server.pid", "ovsdb-server.*.ctl"]
        remove = _saved_set(saved, "sockets")
        if not switch_end:
            remove.append(f"/var/run/dpdk/{prefix}")
    # --no-wait when ovs-vswitchd is gone: it would never confirm the change.
    del_br = ["ovs-vsctl", "--timeout=30"] + ([] if switch_up else ["--no-wait"])
    for name in bridges:
        del_br += ["--", "--if-exists", "del-br", name]
    return {
        "before_ops": before_ops,
        "bridges": bridges,
        "del_br": del_br if db_now else [],
        "other_config": dict(other_config),
        "after_ops": after_ops,
        "ovsdb_up_end": db_end,
        "vswitchd_up_end": switch_end,
        "stale": stale,
        "remove": remove,
    }


def ovs_bridge_argv(
    ports: object,
    bridge: object = "icperf-br0",
    physical_port: object = None,
    timeout: object = 60,
) -> list[str]:
    """ovs-vsctl command creating a fresh netdev bridge with one port per container.

    A bridge left by an earlier test is deleted first (it would remember addresses). Each
    container's port is a dpdkvhostuserclient named after it: OVS connects to the
    container's socket, where the container's virtio_user is the server, and reconnects
    whenever the container restarts its applet.
    """
    containers = _ports(ports)
    name = _ifname(bridge, "vswitch_ovs_bridge")
    nic = ovs_physical_port(physical_port)
    argv = [f"--timeout={_int(timeout, 'vswitch_ovs_start_timeout', 1)}"]
    argv += ["--", "--if-exists", "del-br", name, "--", "add-br", name]
    argv += ["--", "set", "Bridge", name, "datapath_type=netdev"]
    for port in containers:
        argv += ["--", "add-port", name, str(port["name"])]
        argv += ["--", "set", "Interface", str(port["name"]), "type=dpdkvhostuserclient"]
        argv.append(f"options:vhost-server-path={json.dumps(port['sock'])}")
    if nic:
        argv += ["--", "add-port", name, nic["name"]]
        argv += ["--", "set", "Interface", nic["name"], "type=dpdk"]
        argv.append(f"options:dpdk-devargs={nic['pci']}")
    return ["ovs-vsctl", *argv]


def hugepages_plan(
    nr_hugepages: object,
    mounts: object,
    mount: object,
    count: object,
    mount_exists: object,
) -> dict[str, object]:
    """What hugepages apply changes: the reservation, the mount, the state to save first.

    ``nr_hugepages`` and ``mounts`` are the contents of /proc/sys/vm/nr_hugepages and
    /proc/mounts. The reservation is raised to ``count`` when lower, never lowered. A
    ``mount`` holding another file system is refused. Returns 'files' (for saved_state:
    the sysctl to raise), 'mount' (whether to mount hugetlbfs) and 'save' (what restore
    must undo: {'mounts': {path: {'mounted': true, 'created_dir': true}}}, only what this
    apply does).
    """
    wanted = _int(count, "hugepages_count", 1)
    if not isinstance(mount, str) or not re.match(r"^/.+", mount):
        raise IcperfInputError(f"hugepages_mount: {mount!r} is not an absolute path")
    now = _int(str(nr_hugepages).strip(), "nr_hugepages")
    if not isinstance(mounts, str):
        raise IcperfInputError(f"mounts: {mounts!r} is not the text of /proc/mounts")
    point = mount.rstrip("/") or "/"
    # /proc/mounts escapes blanks in mount points as octal (\040); icperf paths have none.
    types = [
        fields[2]
        for fields in (line.split() for line in mounts.splitlines())
        if len(fields) > 2 and fields[1] == point
    ]
    foreign = [kind for kind in types if kind != "hugetlbfs"]
    if foreign:
        raise IcperfInputError(
            f"hugepages_mount: {mount} is a mount point of {', '.join(foreign)}, not hugetlbfs"
        )
    changes: dict[str, bool] = {}
    if not types:
        changes["mounted"] = True
        if mount_exists is not True:
            changes["created_dir"] = True
    return {
        "files": {NR_HUGEPAGES: str(wanted)} if now < wanted else {},
        "mount": not types,
        "save": {"mounts": {mount: changes}} if changes else {},
    }
