"""Two network namespaces (the containers' stand-ins) joined by a linux bridge in a third."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True)
class Host:
    ns: str
    iface: str
    ip: str
    mac: str


@dataclass(frozen=True)
class Topology:
    bridge_ns: str
    a: Host
    b: Host

    def namespaces(self) -> list[str]:
        return [self.a.ns, self.b.ns, self.bridge_ns]


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def _sysctl(ns: str, key: str, value: str) -> None:
    path = Path("/proc/sys") / key.replace(".", "/")
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, "sh", "-c", f"echo {value} > {path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{ns}: sysctl {key}={value}: {proc.stderr.strip()}")


def destroy(prefix: str) -> None:
    """Deletes every namespace of the topology; deleting a namespace removes its veths."""
    for suffix in ("a", "b", "br"):
        ns = f"{prefix}-{suffix}"
        if (NETNS_DIR / ns).exists():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def create(prefix: str, subnet: str = "10.77.0") -> Topology:
    """Builds a fresh topology, so no earlier run's bridge forwarding table is inherited."""
    destroy(prefix)
    topo = Topology(
        bridge_ns=f"{prefix}-br",
        a=Host(f"{prefix}-a", "eth0", f"{subnet}.1", "02:77:00:00:00:01"),
        b=Host(f"{prefix}-b", "eth0", f"{subnet}.2", "02:77:00:00:00:02"),
    )
    try:
        for ns in topo.namespaces():
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        br = topo.bridge_ns
        _ip("-n", br, "link", "add", "br0", "type", "bridge")
        _ip("-n", br, "link", "set", "br0", "up")
        # br_netfilter is built into this kernel and would drop raw-injected frames.
        for family in ("iptables", "ip6tables", "arptables"):
            _sysctl(br, f"net.bridge.bridge-nf-call-{family}", "0")
        for port, host in (("port-a", topo.a), ("port-b", topo.b)):
            _sysctl(host.ns, "net.ipv6.conf.all.disable_ipv6", "1")
            _sysctl(host.ns, "net.ipv6.conf.default.disable_ipv6", "1")
            _ip(
                "-n",
                br,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                host.iface,
                "netns",
                host.ns,
            )
            _ip("-n", br, "link", "set", port, "master", "br0", "up")
            _ip("-n", host.ns, "link", "set", host.iface, "address", host.mac)
            _ip("-n", host.ns, "addr", "add", f"{host.ip}/24", "dev", host.iface)
            _ip("-n", host.ns, "link", "set", host.iface, "up")
        # Static neighbours: the first UDP packets do not wait for ARP.
        for here, there in ((topo.a, topo.b), (topo.b, topo.a)):
            _ip(
                "-n",
                here.ns,
                "neigh",
                "replace",
                there.ip,
                "lladdr",
                there.mac,
                "dev",
                here.iface,
                "nud",
                "permanent",
            )
    except Exception:
        destroy(prefix)
        raise
    return topo
