"""Command line of the icperf applet a container runs in a test."""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labspec import PEER_APP
from ansible_collections.icperf.lab.plugins.module_utils.params import (
    BURST_RANGE,
    FLAGS,
    PKT_SIZE_RANGE,
    check_xdp,
    parse_bool,
)
from ansible_collections.icperf.lab.plugins.module_utils.vswitches import (
    APPLETS_DPDK,
    ATTACH_VF_PCI,
    ATTACH_VHOST_USER,
    SwitchTraits,
    traits,
)

CONTAINER_IFACE = "eth0"
# Deep virtio rings: with 256 entries three pollers sharing two cores manage tens of kpps.
VIRTIO_QUEUE_SIZE = 16384


def _int_param(params: Mapping[str, object], key: str, low: int, high: int | None) -> int:
    value = params.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise IcperfInputError(f"{key}: {value!r} is not an integer")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise IcperfInputError(f"{key}: {value} is out of range (must be {bounds})")
    return value


def _container_field(container: Mapping[str, object], key: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise IcperfInputError(f"container.{key}: {value!r} is missing or not a string")
    return value


def _container_cpus(container: Mapping[str, object]) -> list[int]:
    cpus = container.get("cpus")
    if not isinstance(cpus, list) or not cpus:
        raise IcperfInputError(f"container.cpus: {cpus!r} is not a non-empty list of CPUs")
    for cpu in cpus:
        if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu < 0:
            raise IcperfInputError(f"container.cpus: {cpu!r} is not a CPU number")
    return cpus


def eal_args(container: Mapping[str, object], vswitch: str | SwitchTraits) -> list[str]:
    """DPDK EAL arguments: the container's port, a private file prefix and its cores."""
    row = vswitch if isinstance(vswitch, SwitchTraits) else traits(vswitch)
    name = _container_field(container, "name")
    cpus = _container_cpus(container)
    if row.attach == ATTACH_VF_PCI:
        port = ["-a", _container_field(container, "vf_pci")]
    elif row.attach == ATTACH_VHOST_USER:
        sock = _container_field(container, "sock")
        port = [
            f"--vdev=net_virtio_user0,path={sock},queue_size={VIRTIO_QUEUE_SIZE}"
            + row.vdev_options,
            "--no-pci",
            # vhost-user needs the memory in few files; per-page files exceed its regions.
            "--single-file-segments",
        ]
    else:
        raise IcperfInputError(
            f"vswitch: {row.name} attaches containers by {row.attach}, which DPDK applets "
            "cannot drive"
        )
    return [
        *port, *row.eal_args, f"--file-prefix={name}", "-l", ",".join(str(cpu) for cpu in cpus)
    ]


def icperf_command(
    container: Mapping[str, object],
    params: Mapping[str, object],
    duration: object,
    binary: str = "icperf",
) -> list[str]:
    """argv of the applet for ``container`` (a lab_containers entry) in test ``params``.

    The switch's traits choose the applet family: socket switches run send, recv, client,
    server; the others their dpdk- twins with EAL arguments after ``--`` (the container's
    port, the switch's own EAL arguments, then ``params.eal_args``, a list of extra EAL
    arguments such as ["-m", "256"]). -R, -B and -m only concern the socket applets and are
    left out of DPDK command lines; ``params.ring`` (descriptors per queue) only concerns
    the DPDK ones. ``xdp`` gives the socket applets -X on the container's interface (an
    AF_XDP socket); it is refused, as in the first play, with raw, multi or a switch whose
    containers have no kernel netdev.
    """
    if not isinstance(container, Mapping):
        raise IcperfInputError(f"container: {container!r} is not a mapping")
    if not isinstance(params, Mapping):
        raise IcperfInputError(f"params: {params!r} is not a mapping")
    row = traits(params.get("vswitch"))
    app = container.get("app")
    if app not in PEER_APP:
        raise IcperfInputError(f"container.app: {app!r} is not one of {', '.join(PEER_APP)}")
    if isinstance(duration, str) and duration.strip().isdigit():
        duration = int(duration)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 1:
        raise IcperfInputError(f"duration: {duration!r} must be a whole number of seconds >= 1")
    flags = {
        flag: False if params.get(flag) is None else parse_bool(params[flag], flag)
        for flag in FLAGS
    }
    check_xdp([row.name], flags)
    cpus = _container_cpus(container)
    dpdk = row.applets == APPLETS_DPDK

    argv = [
        binary,
        f"dpdk-{app}" if dpdk else str(app),
        _container_field(container, "ip"),
        _container_field(container, "mac"),
        _container_field(container, "peer_ip"),
        _container_field(container, "peer_mac"),
        "-r", str(_int_param(params, "rate", 1, None)),
        "-p", str(_int_param(params, "pkt_size", *PKT_SIZE_RANGE)),
        "-b", str(_int_param(params, "burst", *BURST_RANGE)),
        "-t", str(duration),
        "--json",
        "--cpu", str(cpus[0]),
    ]  # fmt: skip
    if not dpdk and flags["raw"]:
        argv += ["-R", str(container.get("iface") or CONTAINER_IFACE)]
    if not dpdk and flags["xdp"]:
        argv += ["-X", str(container.get("iface") or CONTAINER_IFACE)]
    if not dpdk and flags["blocking"]:
        argv.append("-B")
    if flags["consume"]:
        argv.append("-c")
    if not dpdk and flags["multi"]:
        argv.append("-m")
    if not flags["debug"]:
        argv.append("-s")
    if dpdk:
        if params.get("ring") is not None:
            argv += ["--ring", str(_int_param(params, "ring", 64, 32768))]
        extra = params.get("eal_args") or []
        if not isinstance(extra, list) or not all(isinstance(arg, str) for arg in extra):
            raise IcperfInputError(f"eal_args: {extra!r} is not a list of strings")
        argv += ["--", *eal_args(container, row), *extra]
    return argv
