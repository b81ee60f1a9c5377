"""Lab files parsed and validated: containers, applets, addresses and peers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.icperf.lab.plugins.module_utils.addresses import (
    mac_address,
    parse_ip,
    parse_mac,
    parse_pci,
    parse_prefix,
    parse_subnet,
)
from ansible_collections.icperf.lab.plugins.module_utils.cores import parse_cpu_list
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.params import (
    DIMENSIONS,
    parse_bool,
)

PEER_APP = {"send": "recv", "recv": "send", "client": "server", "server": "client"}
DIMENSION_APPS = {"throughput": ("send", "recv"), "latency": ("client", "server")}
CONTAINER_FIELDS = (
    "name", "app", "ip", "mac", "netmask", "peer_ip", "peer_mac",
    "cpus", "sock", "vf", "vf_pci", "remote", "host",
)  # fmt: skip
LONG_KEYS = ("containers", "siblings", "description")
SHORT_KEYS = (
    "pairs", "dimension", "subnet", "first_host", "name_prefix", "mac_prefix",
    "cpus_per_container", "vfs", "vf_pcis", "siblings", "description", "across_hosts",
)  # fmt: skip
DEFAULT_SUBNET = "10.0.3.0/24"
DEFAULT_FIRST_HOST = 10

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass
class ContainerSpec:
    """One container of a lab file, validated field by field."""

    name: str
    app: str
    ip: ipaddress.IPv4Address
    mac: str
    prefix: int
    peer_ip: ipaddress.IPv4Address
    peer_mac: str
    cpus: list[int] | None
    sock: str | None
    vf: str | None
    vf_pci: str | None
    remote: bool
    # The inventory host the container runs on; None: the first lab host.
    host: str | None = None


@dataclass
class Lab:
    """A parsed lab file: its containers and the settings that affect core allocation."""

    containers: list[ContainerSpec]
    dimension: str
    pairs: int
    cpus_per_container: int
    siblings: object
    # Short form: senders and clients on the first lab host, their peers on the second.
    across_hosts: bool = False


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise IcperfInputError(f"{field}: {value!r} is not a non-empty string")
    return value.strip()


def _positive_int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise IcperfInputError(f"{field}: {value!r} must be an integer >= 1")
    return value


def _check_keys(entry: Mapping[str, object], known: tuple[str, ...], where: str) -> None:
    for key in entry:
        if key not in known:
            raise IcperfInputError(
                f"{where}{key}: unknown field (known: {', '.join(known)})"
            )


def _parse_container(entry: object, position: int) -> ContainerSpec:
    where = f"containers[{position}]"
    if not isinstance(entry, Mapping):
        raise IcperfInputError(f"{where}: {entry!r} is not a mapping")
    _check_keys(entry, CONTAINER_FIELDS, f"{where}.")
    for required in ("name", "app", "ip", "mac", "peer_ip", "peer_mac"):
        if entry.get(required) is None:
            raise IcperfInputError(f"{where}.{required}: missing")
    name = _text(entry["name"], f"{where}.name")
    if not _NAME_RE.match(name):
        raise IcperfInputError(
            f"{where}.name: {name!r} must be letters, digits, '_', '.', '-' (at most 63)"
        )
    app = entry["app"]
    if app not in PEER_APP:
        raise IcperfInputError(f"{where}.app: {app!r} is not one of {', '.join(PEER_APP)}")
    cpus = None
    if entry.get("cpus") is not None:
        cpus = parse_cpu_list(entry["cpus"], f"{where}.cpus")
        if not cpus:
            raise IcperfInputError(f"{where}.cpus: empty, leave it out to allocate cores")
    return ContainerSpec(
        name=name,
        app=str(app),
        ip=parse_ip(entry["ip"], f"{where}.ip"),
        mac=parse_mac(entry["mac"], f"{where}.mac"),
        prefix=parse_prefix(entry.get("netmask", 24), f"{where}.netmask"),
        peer_ip=parse_ip(entry["peer_ip"], f"{where}.peer_ip"),
        peer_mac=parse_mac(entry["peer_mac"], f"{where}.peer_mac"),
        cpus=cpus,
        sock=None if entry.get("sock") is None else _text(entry["sock"], f"{where}.sock"),
        vf=None if entry.get("vf") is None else _text(entry["vf"], f"{where}.vf"),
        vf_pci=None if entry.get("vf_pci") is None else parse_pci(
            entry["vf_pci"], f"{where}.vf_pci"
        ),
        remote=parse_bool(entry.get("remote", False), f"{where}.remote"),
        host=None if entry.get("host") is None else _text(entry["host"], f"{where}.host"),
    )


def _short_list(lab: Mapping[str, object], key: str, count: int) -> list[object]:
    value = lab.get(key)
    if value is None:
        return [None] * count
    if not isinstance(value, list) or len(value) != count:
        raise IcperfInputError(f"{key}: must be a list of {count} values, one per container")
    return value


def _derive_short(lab: Mapping[str, object], dimension: str) -> list[ContainerSpec]:
    pairs = _positive_int(lab["pairs"], "pairs")
    network = parse_subnet(lab.get("subnet", DEFAULT_SUBNET), "subnet")
    first = _positive_int(lab.get("first_host", DEFAULT_FIRST_HOST), "first_host")
    count = 2 * pairs
    if first + count > network.num_addresses - 1:
        raise IcperfInputError(
            f"subnet: {network} has no room for {count} containers from host {first}"
        )
    prefix = lab.get("name_prefix", "icp")
    if not isinstance(prefix, str) or not _NAME_RE.match(f"{prefix}{count}"):
        raise IcperfInputError(
            f"name_prefix: {prefix!r} must be letters, digits, '_', '.', '-'"
        )
    mac_prefix = lab.get("mac_prefix", "02:00:00")
    if not isinstance(mac_prefix, str):
        raise IcperfInputError(f"mac_prefix: {mac_prefix!r} is not three octets (02:00:00)")
    vfs = [
        None if vf is None else _text(vf, f"vfs[{index}]")
        for index, vf in enumerate(_short_list(lab, "vfs", count))
    ]
    vf_pcis = [
        None if pci is None else parse_pci(pci, f"vf_pcis[{index}]")
        for index, pci in enumerate(_short_list(lab, "vf_pcis", count))
    ]
    apps = DIMENSION_APPS[dimension]
    specs: list[ContainerSpec] = []
    for index in range(count):
        ip = network.network_address + first + index
        peer_ip = network.network_address + first + (index ^ 1)
        specs.append(ContainerSpec(
            name=f"{prefix}{index}",
            app=apps[index % 2],
            ip=ip,
            # The MAC carries the low 24 bits of the IP, so it is unique wherever the IP is.
            mac=mac_address(int(ip) & 0xFFFFFF, mac_prefix),
            prefix=network.prefixlen,
            peer_ip=peer_ip,
            peer_mac=mac_address(int(peer_ip) & 0xFFFFFF, mac_prefix),
            cpus=None,
            sock=None,
            vf=vfs[index],
            vf_pci=vf_pcis[index],
            remote=False,
        ))
    return specs


def _check_unique(specs: list[ContainerSpec]) -> None:
    for attribute in ("name", "ip", "mac", "sock", "vf", "vf_pci"):
        seen: dict[object, int] = {}
        for position, spec in enumerate(specs):
            value = getattr(spec, attribute)
            if value is None:
                continue
            if value in seen:
                raise IcperfInputError(
                    f"containers[{position}].{attribute}: {value} duplicates "
                    f"containers[{seen[value]}].{attribute}"
                )
            seen[value] = position


def _check_cpus(specs: list[ContainerSpec]) -> None:
    owner: dict[int, int] = {}
    for position, spec in enumerate(specs):
        for cpu in spec.cpus or []:
            if cpu in owner:
                raise IcperfInputError(
                    f"containers[{position}].cpus: cpu {cpu} is also in "
                    f"containers[{owner[cpu]}].cpus"
                )
            owner[cpu] = position


def _check_peers(specs: list[ContainerSpec]) -> None:
    by_ip = {spec.ip: position for position, spec in enumerate(specs)}
    for position, spec in enumerate(specs):
        where = f"containers[{position}]"
        network = ipaddress.IPv4Network(f"{spec.ip}/{spec.prefix}", strict=False)
        if spec.peer_ip == spec.ip:
            raise IcperfInputError(f"{where}.peer_ip: {spec.peer_ip} is the container's own ip")
        if spec.peer_ip not in network:
            raise IcperfInputError(f"{where}.peer_ip: {spec.peer_ip} is outside {network}")
        wanted = PEER_APP[spec.app]
        if spec.peer_ip not in by_ip:
            if not spec.remote:
                raise IcperfInputError(
                    f"{where}.peer_ip: no container has {spec.peer_ip}: a {spec.app} needs a "
                    f"{wanted} (set remote: true if the {wanted} runs on another host)"
                )
            continue
        other_position = by_ip[spec.peer_ip]
        other = specs[other_position]
        there = f"containers[{other_position}]"
        if spec.remote:
            raise IcperfInputError(
                f"{where}.remote: true, but its peer_ip {spec.peer_ip} is {there} in this file"
            )
        if other.app != wanted:
            raise IcperfInputError(
                f"{where}.peer_ip: {spec.peer_ip} is {there} ({other.app}), "
                f"but a {spec.app} needs a {wanted}"
            )
        if spec.peer_mac != other.mac:
            raise IcperfInputError(
                f"{where}.peer_mac: {spec.peer_mac} is not {there}.mac ({other.mac})"
            )
        if other.peer_ip != spec.ip:
            raise IcperfInputError(
                f"{there}.peer_ip: {other.peer_ip} should be {spec.ip}, the ip of its peer "
                f"{where}"
            )


def _apps_dimension(specs: list[ContainerSpec]) -> str:
    apps = {spec.app for spec in specs}
    for dimension, pair in DIMENSION_APPS.items():
        if apps <= set(pair):
            return dimension
    return "mixed"


def parse_lab(lab: object, dimension: str | None = None) -> Lab:
    """Parse and validate a lab file (long or short form) before anything touches a host.

    ``dimension`` is used by a short-form lab without a ``dimension`` key; for other labs
    it must agree with the lab's own dimension.
    """
    if not isinstance(lab, Mapping):
        raise IcperfInputError(f"lab: {lab!r} is not a mapping (a parsed lab file)")
    if dimension is not None and dimension not in DIMENSIONS:
        raise IcperfInputError(f"dimension: {dimension!r} is not one of {', '.join(DIMENSIONS)}")
    if "containers" in lab and "pairs" in lab:
        raise IcperfInputError("lab: give either containers (long form) or pairs (short form)")
    per_container = 1
    if "containers" in lab:
        _check_keys(lab, LONG_KEYS, "lab.")
        entries = lab["containers"]
        if not isinstance(entries, list) or not entries:
            raise IcperfInputError("containers: must be a non-empty list")
        specs = [_parse_container(entry, position) for position, entry in enumerate(entries)]
        lab_dimension = _apps_dimension(specs)
    elif "pairs" in lab:
        _check_keys(lab, SHORT_KEYS, "lab.")
        lab_dimension = lab.get("dimension", dimension or "throughput")
        if lab_dimension not in DIMENSIONS:
            raise IcperfInputError(
                f"dimension: {lab_dimension!r} is not one of {', '.join(DIMENSIONS)}"
            )
        per_container = _positive_int(lab.get("cpus_per_container", 1), "cpus_per_container")
        specs = _derive_short(lab, str(lab_dimension))
    else:
        raise IcperfInputError("lab: needs containers (long form) or pairs (short form)")
    if dimension is not None and lab_dimension != dimension:
        raise IcperfInputError(
            f"dimension: {dimension} asked, but the lab's applets are {lab_dimension}"
        )
    _check_unique(specs)
    _check_cpus(specs)
    _check_peers(specs)
    pairs = sum(1 for spec in specs if spec.app in ("send", "client"))
    across = "pairs" in lab and parse_bool(lab.get("across_hosts", False), "across_hosts")
    return Lab(specs, str(lab_dimension), pairs, per_container, lab.get("siblings"), across)


def place_hosts(lab: Lab, lab_hosts: Sequence[str] | None = None) -> list[str | None]:
    """The inventory host of each container: its ``host``, else the first lab host.

    ``lab_hosts`` are the hosts the run targets, in inventory order (the play's hosts); a
    container placed on another host is an error naming its ``host`` field. Without
    ``lab_hosts`` (no inventory at hand) an unplaced container's host is None.
    """
    first = lab_hosts[0] if lab_hosts else None
    if lab.across_hosts:
        # The thesis' run_remote_test: senders on one server, receivers on the other.
        second = lab_hosts[1] if lab_hosts and len(lab_hosts) > 1 else first
        return [first if spec.app in ("send", "client") else second for spec in lab.containers]
    placed: list[str | None] = []
    for position, spec in enumerate(lab.containers):
        if spec.host is not None and lab_hosts is not None and spec.host not in lab_hosts:
            raise IcperfInputError(
                f"containers[{position}].host: {spec.host} is not a lab host of the inventory "
                f"(icperf_hosts: {', '.join(lab_hosts) or 'none'})"
            )
        placed.append(spec.host or first)
    return placed


def is_remote(lab: Lab, placed: Sequence[str | None]) -> bool:
    """L = remote: a container talks to a peer on another host (thesis Table 5.1)."""
    return lab.across_hosts or any(spec.remote for spec in lab.containers) or len(set(placed)) > 1


def check_remote(lab: Lab, lab_hosts: Sequence[str]) -> bool:
    """Place the containers on ``lab_hosts``; whether the lab is remote.

    A remote lab with one lab host is refused, naming the container that needs another.
    """
    placed = place_hosts(lab, lab_hosts)
    remote = is_remote(lab, placed)
    if remote and len(lab_hosts) < 2 and lab.across_hosts:
        raise IcperfInputError(
            "across_hosts: true puts the receivers on a second lab host, but the inventory "
            f"gives one lab host ({', '.join(lab_hosts) or 'none'}); a remote test needs two "
            "hosts in icperf_hosts"
        )
    if remote and len(lab_hosts) < 2:
        position = next(i for i, spec in enumerate(lab.containers) if spec.remote)
        raise IcperfInputError(
            f"containers[{position}].remote: true, so its peer runs on another host, but "
            f"the inventory gives one lab host ({', '.join(lab_hosts) or 'none'}); a remote "
            "test needs two hosts in icperf_hosts"
        )
    return remote


def load_lab_file(path: str) -> object:
    """Read a lab file's YAML (the caller validates it with parse_lab)."""
    import yaml  # Imported here so the rest of the module works without PyYAML.

    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as error:
        raise IcperfInputError(f"lab: cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise IcperfInputError(f"lab: {path} is not valid YAML: {error}") from None
