#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import re

from ansible_collections.icperf.lab.plugins.module_utils import hostmodule

DOCUMENTATION = r"""
module: wire_nic
short_description: Read the NIC cabled to the other lab host - its driver, speed and counters
author: icperf contributors
description:
  - Reads the lab NIC named by O(nic) (a PCI address or an interface name), the cable of a
    test across two hosts, and what it counted. Changes nothing.
  - A NIC on a kernel driver is read through its interface, source C(netdev) (the
    C(statistics) directory in sysfs, the speed from C(speed), which is -1 while the link is
    down).
  - A NIC given to DPDK (no interface) is read through the switch that drives it, source
    C(ovs), when O(ovs_interface) names its port of Open vSwitch (C(ovs-vsctl get Interface)
    statistics and link_speed); otherwise source C(none), without counters.
  - With O(counters=port), a NIC on a kernel driver is read through the port's own
    counters, source C(port) (C(ethtool -S), the driver's names for the frames and bytes
    received and sent at the port). Its interface's counters count only the frames of its
    own queues, not those of its SR-IOV VFs. A driver whose port counters this module does
    not know gives source C(none), without counters.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  nic:
    description: The NIC's PCI address (0000:01:00.0) or interface name.
    type: str
    required: true
  ovs_interface:
    description: The NIC's interface in Open vSwitch, when a DPDK OVS drives it.
    type: str
    default: ""
  counters:
    description:
      - V(netdev) reads the counters of the NIC's interface (or of O(ovs_interface));
        V(port) those of the physical port, which also count its VFs' frames.
    type: str
    choices: [netdev, port]
    default: netdev
extends_documentation_fragment:
  - icperf.lab.host
  - icperf.lab.host.roots
"""

EXAMPLES = r"""
- name: Read the wire NIC
  icperf.lab.wire_nic:
    nic: "{{ icperf_wire_nic }}"
  register: wire
"""

RETURN = r"""
wire:
  description: The NIC and what it counted so far.
  returned: always
  type: dict
  sample: {nic: "0000:01:00.0", pci: "0000:01:00.0", netdev: enp1s0, driver: igb,
           speed_mbps: 1000, source: netdev, rx_packets: 22, tx_packets: 22,
           rx_bytes: 2028, tx_bytes: 2028}
"""

STATISTICS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes")
PCI_ADDRESS = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
# ovs-vsctl prints a map as {key=value, ...} and link_speed as a number of bits/s.
OVS_PAIR = re.compile(r"([a-z_]+)=(\d+)")
# ethtool -S names of the port's own counters (the MAC's good frames and octets, VFs'
# included), per PF driver: igb's rx_packets is the GPRC register, unlike the interface's
# rx_packets; ixgbe's are the _nic ones; mlx5's the _phy ones.
PORT_COUNTERS = {
    "igb": {"rx_packets": "rx_packets", "tx_packets": "tx_packets",
            "rx_bytes": "rx_bytes", "tx_bytes": "tx_bytes"},
    "ixgbe": {"rx_packets": "rx_pkts_nic", "tx_packets": "tx_pkts_nic",
              "rx_bytes": "rx_bytes_nic", "tx_bytes": "tx_bytes_nic"},
    "mlx5_core": {"rx_packets": "rx_packets_phy", "tx_packets": "tx_packets_phy",
                  "rx_bytes": "rx_bytes_phy", "tx_bytes": "tx_bytes_phy"},
}  # fmt: skip
ETHTOOL_STAT = re.compile(r"^\s*([^:]+):\s*(\d+)\s*$")


class WireNic(hostmodule.HostModule):
    def find(self, nic):
        """The NIC's PCI address and interface (either may be empty)."""
        if PCI_ADDRESS.match(nic):
            device = self.sys("bus/pci/devices", nic)
            if not os.path.isdir(device):
                raise RuntimeError(f"{self.name('nic')}: this host has no PCI device {nic}")
            net = os.path.join(device, "net")
            names = sorted(os.listdir(net)) if os.path.isdir(net) else []
            return nic, names[0] if names else ""
        if not os.path.isdir(self.sys("class/net", nic)):
            raise RuntimeError(f"{self.name('nic')}: this host has no interface {nic}")
        device = os.path.realpath(self.sys("class/net", nic, "device"))
        pci = os.path.basename(device) if PCI_ADDRESS.match(os.path.basename(device)) else ""
        return pci, nic

    def driver(self, pci):
        link = self.sys("bus/pci/devices", pci, "driver") if pci else ""
        return os.path.basename(os.readlink(link)) if link and os.path.islink(link) else ""

    def from_netdev(self, netdev):
        stats = self.sys("class/net", netdev, "statistics")
        speed = self.value(self.sys("class/net", netdev, "speed"))
        counters = {name: int(self.value(os.path.join(stats, name)) or 0) for name in STATISTICS}
        return {"source": "netdev", "speed_mbps": int(speed) if speed.lstrip("-").isdigit()
                else -1, **counters}  # fmt: skip

    def from_port(self, netdev, driver):
        speed = self.from_netdev(netdev)["speed_mbps"]
        names = PORT_COUNTERS.get(driver)
        if names is None:
            return {"source": "none", "speed_mbps": speed}
        _, out = self.command(["ethtool", "-S", netdev])
        stats = {}
        for line in out.splitlines():
            match = ETHTOOL_STAT.match(line)
            if match:
                stats.setdefault(match.group(1).strip(), int(match.group(2)))
        missing = [name for name in names.values() if name not in stats]
        if missing:
            raise RuntimeError(
                f"{self.name('nic')}: ethtool -S {netdev} ({driver}) has no "
                f"{', '.join(missing)}"
            )
        return {"source": "port", "speed_mbps": speed,
                **{key: stats[name] for key, name in names.items()}}  # fmt: skip

    def from_ovs(self, interface):
        _, out = self.command(["ovs-vsctl", "get", "Interface", interface, "statistics"])
        values = {key: int(number) for key, number in OVS_PAIR.findall(out)}
        _, speed = self.command(["ovs-vsctl", "get", "Interface", interface, "link_speed"])
        speed = speed.strip().strip('"')
        return {
            "source": "ovs",
            "speed_mbps": int(speed) // 1_000_000 if speed.isdigit() else -1,
            **{name: values.get(name, 0) for name in STATISTICS},
        }

    def run(self):
        nic = self.params["nic"]
        pci, netdev = self.find(nic)
        entry = {"nic": nic, "pci": pci, "netdev": netdev, "driver": self.driver(pci)}
        if netdev and self.params["counters"] == "port":
            read = self.from_port(netdev, entry["driver"])
        elif netdev:
            read = self.from_netdev(netdev)
        elif self.params["ovs_interface"]:
            read = self.from_ovs(self.params["ovs_interface"])
        else:
            read = {"source": "none", "speed_mbps": -1}
        return {"changed": False, "wire": {**entry, **read}}


ARGUMENT_SPEC = hostmodule.argument_spec(
    {
        "nic": {"type": "str", "required": True},
        "ovs_interface": {"type": "str", "default": ""},
        "counters": {"type": "str", "default": "netdev", "choices": ["netdev", "port"]},
    },
    roots=True,
)


def main():
    hostmodule.run_module(ARGUMENT_SPEC, WireNic)


if __name__ == "__main__":
    main()
