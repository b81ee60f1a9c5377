"""Lab containers: addresses, peers, cores and ports of each container of a lab file."""

from __future__ import annotations

import zlib

from ansible_collections.icperf.lab.plugins.module_utils.cores import allocate_cores
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labspec import (
    ContainerSpec,
    load_lab_file,
    parse_lab,
    place_hosts,
)
from ansible_collections.icperf.lab.plugins.module_utils.vswitches import (
    ATTACH_VF_NETDEV,
    ATTACH_VF_PCI,
    traits,
)

__all__ = [
    "host_veth", "lab_containers", "load_lab_file", "parse_lab", "place_lab", "vswitch_cores",
]  # fmt: skip

HOST_VETH_PREFIX = "icpv-"
IFNAMSIZ = 15  # longest Linux interface name
SUN_PATH_MAX = 107  # longest UNIX socket path (sun_path minus its NUL)


def host_veth(name: str) -> str:
    """Host-side veth name: icpv-<name> when it fits in 15 characters, else a hash."""
    candidate = HOST_VETH_PREFIX + name
    if len(candidate) <= IFNAMSIZ:
        return candidate
    return f"{HOST_VETH_PREFIX}{zlib.crc32(name.encode()):08x}"


def _sock_path(spec: ContainerSpec, socket_dir: str, position: int) -> str:
    sock = spec.sock or f"{spec.name}.sock"
    path = sock if sock.startswith("/") else f"{socket_dir.rstrip('/')}/{sock}"
    if len(path.encode()) > SUN_PATH_MAX:
        raise IcperfInputError(
            f"containers[{position}].sock: {path} is longer than {SUN_PATH_MAX} bytes"
        )
    return path


def place_lab(
    lab: object,
    host_cores: object,
    reserved_cores: object = (0,),
    switch_cores: object = 0,
    vswitch: str = "linux-bridge",
    socket_dir: str = "/run/icperf/vhost",
    siblings: object = None,
    dimension: str | None = None,
    here: str | None = None,
    lab_hosts: list[str] | None = None,
    wire_ports: list[str] | None = None,
) -> tuple[list[dict[str, object]], list[int]]:
    """The containers of ``lab`` (see lab_containers) and the switch's cores, allocated once.

    With ``here`` and ``lab_hosts`` (the run's inventory hosts), only the containers placed
    on host ``here`` are returned, their cores taken from its ``host_cores``; a container
    whose peer is placed on another host has no ``peer`` and is ``remote``.

    ``wire_ports`` are the PCI addresses of the VFs of the NIC cabled to the other host
    (an SR-IOV switch): a remote container on a VF attachment whose lab names no VF takes
    the first of them no container of this host names.
    """
    row = traits(vswitch)
    if not isinstance(socket_dir, str) or not socket_dir.startswith("/"):
        raise IcperfInputError(f"socket_dir: {socket_dir!r} is not an absolute path")
    parsed = parse_lab(lab, dimension)
    placed = place_hosts(parsed, lab_hosts)
    mine = [
        position for position, host in enumerate(placed)
        if here is None or lab_hosts is None or host == here
    ]  # fmt: skip
    allocation = allocate_cores(
        host_cores,
        [parsed.containers[position].cpus for position in mine],
        reserved_cores=reserved_cores,
        switch_cores=switch_cores,
        siblings=siblings if siblings is not None else parsed.siblings,
        per_container=parsed.cpus_per_container,
    )
    names = {spec.ip: spec.name for spec in parsed.containers}
    hosts = {spec.ip: host for spec, host in zip(parsed.containers, placed, strict=True)}
    named = {parsed.containers[position].vf_pci for position in mine}
    free_ports = [port for port in wire_ports or [] if port not in named]
    # Derived names can collide even when the lab's own fields are unique.
    owners: dict[str, int] = {}
    result: list[dict[str, object]] = []
    for mine_index, position in enumerate(mine):
        spec = parsed.containers[position]
        peer_host = hosts.get(spec.peer_ip)
        remote = spec.remote or peer_host != placed[position]
        vf_pci = spec.vf_pci
        needs = {ATTACH_VF_PCI: ("vf_pci", vf_pci), ATTACH_VF_NETDEV: ("vf", spec.vf)}
        if row.attach in needs and needs[row.attach][1] is None and vf_pci is None:
            # Across hosts the VF is one of the wire NIC's: its peer is reached only there.
            if remote and wire_ports is not None:
                if not free_ports:
                    raise IcperfInputError(
                        f"containers[{position}].{needs[row.attach][0]}: {spec.name} names "
                        f"no VF, and the NIC cabled to the other host has none left for it "
                        f"(sriov_pfs gives it {len(wire_ports)}, all named or taken): give "
                        "that PF more VFs (num_vfs)"
                    )
                vf_pci = free_ports.pop(0)
            else:
                raise IcperfInputError(
                    f"containers[{position}].{needs[row.attach][0]}: required with vswitch "
                    f"{row.name} (its containers attach by {row.attach})"
                    + (
                        "; across two hosts the VFs of the NIC cabled to the other host are "
                        "taken when the lab names none"
                        if remote else ""
                    )
                )
        veth = host_veth(spec.name)
        sock = _sock_path(spec, socket_dir, position)
        for field, value in (("name", veth), ("sock", sock)):
            if value in owners:
                raise IcperfInputError(
                    f"containers[{position}].{field}: {value} is also used by "
                    f"containers[{owners[value]}]"
                )
            owners[value] = position
        result.append({
            "index": position,
            "name": spec.name,
            "app": spec.app,
            "ip": str(spec.ip),
            "mac": spec.mac,
            "netmask": spec.prefix,
            "peer_ip": str(spec.peer_ip),
            "peer_mac": spec.peer_mac,
            "peer": None if remote else names[spec.peer_ip],
            "remote": remote,
            "host": placed[position],
            # Where the peer runs: None when it is in no lab file of this run (remote: true).
            "peer_host": peer_host,
            # The peer's name wherever it runs (None: in no lab file of this run).
            "peer_name": names.get(spec.peer_ip),
            "cpus": allocation.containers[mine_index],
            "shared_cores": allocation.shared,
            "sock": sock,
            "vf": spec.vf,
            "vf_pci": vf_pci,
            "host_veth": veth,
            "attach": row.attach,
        })
    return result, allocation.switch


def lab_containers(
    lab: object,
    host_cores: object,
    reserved_cores: object = (0,),
    switch_cores: object = 0,
    vswitch: str = "linux-bridge",
    socket_dir: str = "/run/icperf/vhost",
    siblings: object = None,
    dimension: str | None = None,
) -> list[dict[str, object]]:
    """Return one dict per container of ``lab`` with addresses, peer, cores and ports.

    ``siblings`` (else the lab's ``siblings`` key) maps each CPU to its hyperthread
    siblings. See docs/labfile.md for the fields and the core allocation rules.
    """
    return place_lab(
        lab, host_cores, reserved_cores, switch_cores, vswitch, socket_dir, siblings, dimension
    )[0]


def vswitch_cores(
    lab: object,
    host_cores: object,
    reserved_cores: object = (0,),
    switch_cores: object = 0,
    siblings: object = None,
) -> list[int]:
    """Cores of the virtual switch, chosen exactly as lab_containers chooses them."""
    parsed = parse_lab(lab)
    return allocate_cores(
        host_cores,
        [spec.cpus for spec in parsed.containers],
        reserved_cores=reserved_cores,
        switch_cores=switch_cores,
        siblings=siblings if siblings is not None else parsed.siblings,
        per_container=parsed.cpus_per_container,
    ).switch
