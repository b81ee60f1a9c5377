"""LXC configuration of an icperf container, from its plan (plain text, no templating).

The applet's argv is not written into ``lxc.init.cmd``: LXC splits that line at spaces
with quoting rules of its own. It goes into an argv file, one argument per line, that the
container's init (``icperf-run``) reads back exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

HEADER = "# icperf container "
INIT = "/sbin/icperf-run"
RESULTS = "/results"


def log_base(container: Mapping[str, Any]) -> str:
    """File name stem of a container's logs: <name>.<app>."""
    return f"{container['name']}.{container['app']}"


def hugepages_mount(config: str) -> str:
    """The host hugetlbfs directory a container's config binds to its /dev/hugepages, or ''."""
    for line in config.splitlines():
        key, _, value = line.partition("=")
        fields = value.split()
        if key.strip() == "lxc.mount.entry" and len(fields) > 1 and fields[1] == "dev/hugepages":
            return fields[0]
    return ""


def argv_file(argv: Sequence[object], field: str = "argv") -> str:
    """The argv file's content: one argument per line (no argument may hold a newline)."""
    if not isinstance(argv, Sequence) or isinstance(argv, str) or not argv:
        raise IcperfInputError(f"{field}: {argv!r} is not a non-empty list of arguments")
    lines = []
    for position, arg in enumerate(argv):
        text = str(arg)
        if "\n" in text or "\0" in text:
            raise IcperfInputError(f"{field}[{position}]: {text!r} holds a newline or NUL")
        lines.append(text)
    return "\n".join(lines) + "\n"


def container_config(
    container: Mapping[str, Any],
    paths: Mapping[str, str],
    link: str = "",
    extra: Sequence[str] = (),
) -> str:
    """Text of the container's LXC config.

    ``container`` is a plan container (name, app, ip, mac, netmask, peer_ip, cpus,
    host_veth, vf, wiring); ``paths`` gives rootfs and run_dir on the host; ``link`` is
    the bridge a veth joins (published by the switch role when it starts).
    """
    name, app = container["name"], container["app"]
    wiring = container.get("wiring") or {}
    cpus = ",".join(str(cpu) for cpu in container["cpus"])
    lines = [
        f"{HEADER}{name}: {app} (peer {container['peer_ip']}),",
        "# regenerated for every test; this line marks it for icperf's cleanup.",
        f"lxc.uts.name = {name}",
        f"lxc.rootfs.path = dir:{paths['rootfs']}",
        "# Every container shares the one rootfs; nothing may write to it.",
        "lxc.rootfs.options = ro",
        "lxc.autodev = 1",
        "lxc.mount.auto = proc:mixed sys:mixed",
        "lxc.mount.entry = tmpfs tmp tmpfs rw,nosuid,nodev,size=16m 0 0",
        "lxc.mount.entry = tmpfs run tmpfs rw,nosuid,nodev,size=16m 0 0",
        f"lxc.mount.entry = {paths['run_dir']}/{name} results none rw,bind 0 0",
    ]
    socket_dir = str(wiring.get("socket_dir") or "")
    if socket_dir:
        lines.append(
            f"lxc.mount.entry = {socket_dir} {socket_dir.lstrip('/')} none rw,bind,create=dir 0 0"
        )
    hugepages_dir = str(wiring.get("hugepages_dir") or "")
    if hugepages_dir:
        lines.append(
            f"lxc.mount.entry = {hugepages_dir} dev/hugepages none rw,bind,create=dir,optional 0 0"
        )
    if wiring.get("host_usr"):
        lines += [
            "# The host's /usr, read-only: the dpdk- applets are linked against the host's DPDK",
            "# and load its drivers at run time, which a static binary cannot do.",
            "lxc.mount.entry = /usr usr none ro,bind 0 0",
        ]
    if wiring.get("vfio"):
        lines += _vfio(container)
    if wiring.get("xdp"):
        lines += [
            "# AF_XDP (-X): the applet needs CAP_NET_RAW (its socket), CAP_NET_ADMIN and",
            "# CAP_BPF or CAP_SYS_ADMIN (its XDP program) and CAP_IPC_LOCK, which exempts the",
            "# frame memory it locks (32 MiB for a receiver) from the memlock limit: no",
            "# capability is dropped. Raising the limit instead (lxc.prlimit.memlock) needs",
            "# CAP_SYS_RESOURCE, which not every host gives root. No bpffs: the program",
            "# hangs on a link the applet holds.",
            "lxc.cap.drop =",
        ]
    lines += [
        "# Written for both hierarchies: LXC applies the one the host mounts and ignores the",
        "# other with a warning. The applet is pinned with --cpu as well.",
        f"lxc.cgroup2.cpuset.cpus = {cpus}",
        f"lxc.cgroup.cpuset.cpus = {cpus}",
    ]
    lines += _network(container, wiring, link)
    lines += [
        "# lxc-stop sends SIGTERM to icperf-run, which passes it on to the applet; the applet",
        "# then writes its summary record and exits.",
        "lxc.signal.halt = SIGTERM",
        f"lxc.log.file = {paths['run_dir']}/{name}/lxc.log",
        "lxc.log.level = WARN",
        f"lxc.init.cmd = {INIT} {RESULTS}/{log_base(container)}",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def _network(container: Mapping[str, Any], wiring: Mapping[str, Any], link: str) -> list[str]:
    net = wiring.get("net", "veth" if link else "empty")
    address = f"{container['ip']}/{container['netmask']}"
    prime = (
        [f"lxc.environment = ICPERF_PRIME_PEER={container['peer_ip']}"]
        if wiring.get("prime_peer") and container["app"] in ("send", "client")
        else []
    )
    if net == "veth":
        if not link:
            raise IcperfInputError(
                f"link: container {container['name']} joins a bridge by veth, but the switch "
                "published no link"
            )
        return [
            "lxc.net.0.type = veth",
            f"lxc.net.0.link = {link}",
            f"lxc.net.0.veth.pair = {container['host_veth']}",
            "lxc.net.0.name = eth0",
            f"lxc.net.0.hwaddr = {container['mac']}",
            f"lxc.net.0.ipv4.address = {address}",
            "lxc.net.0.flags = up",
            *prime,
        ]
    if net == "phys":
        return [
            "# The VF's MAC is the PF's to set (the switch role gave it the container's): a",
            "# VF that is not trusted cannot change it, so no lxc.net.0.hwaddr.",
            "lxc.net.0.type = phys",
            f"lxc.net.0.link = {container['vf']}",
            "lxc.net.0.name = eth0",
            f"lxc.net.0.ipv4.address = {address}",
            "lxc.net.0.flags = up",
            *prime,
        ]
    return ["lxc.net.0.type = empty"]


def _vfio(container: Mapping[str, Any]) -> list[str]:
    group = str(container.get("vfio_group") or "")
    if not group.isdigit():
        raise IcperfInputError(
            f"vfio_group: container {container['name']} drives VF {container.get('vf_pci')} "
            f"with DPDK, but the VF's IOMMU group is {group or 'unknown'} (is it bound to "
            "vfio-pci?)"
        )
    return [
        "# The VF's PCI device for DPDK (-a VF_PCI): the VFIO container device and the VF's",
        "# IOMMU group, nothing else of the host's /dev/vfio. No device cgroup rule is set,",
        "# so none is needed to open them.",
        "lxc.mount.entry = /dev/vfio/vfio dev/vfio/vfio none bind,create=file 0 0",
        f"lxc.mount.entry = /dev/vfio/{group} dev/vfio/{group} none bind,create=file 0 0",
    ]
