#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import mmap
import os
import time

from ansible_collections.icperf.lab.plugins.module_utils import hostmodule

DOCUMENTATION = r"""
module: sriov_vf_counters
short_description: Read the packet counters a NIC keeps for each of its SR-IOV VFs
author: icperf contributors
description:
  - Reads, for each VF PCI address of O(vfs), the frames and bytes the NIC delivered to the
    VF's receive queues and took from its transmit queues. Changes nothing.
  - A VF on a kernel driver is read through its interface, source C(netdev) - C(ethtool -S)
    first, so that a driver that polls its registers (igbvf, every two seconds) reads them
    now, then the interface's C(statistics) directory in sysfs.
  - A VF without an interface (on vfio-pci, not in use) whose registers the module knows is
    read through its register BAR, C(resource0), source C(registers) - the Intel 82576 VF's
    VFGPRC, VFGPTC, VFGORC and VFGOTC, 32-bit counters the device never clears while the
    PF is not reset. A BAR a driver holds cannot be mapped from user space.
  - Any other VF has source C(none) and no counters.
  - A VF on a kernel driver whose interface is not in the host's network namespace (the
    namespace of a container that just stopped is still being taken down, and the kernel
    gives the interface back only then) is waited for, up to O(netdev_timeout) seconds.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  vfs:
    description: PCI addresses of the VFs (0000:01:10.0).
    type: list
    elements: str
    required: true
  ethtool_command:
    description: The ethtool program.
    type: str
    default: ethtool
  netdev_timeout:
    description: Seconds to wait for the interface of a VF on a kernel driver.
    type: int
    default: 20
extends_documentation_fragment:
  - icperf.lab.host
  - icperf.lab.host.roots
"""

EXAMPLES = r"""
- name: Read the test's VF counters
  icperf.lab.sriov_vf_counters:
    vfs: ["0000:01:10.0", "0000:01:10.2"]
  register: counters
"""

RETURN = r"""
counters:
  description: Per VF PCI address, where the counters came from and their values.
  returned: always
  type: dict
  sample:
    "0000:01:10.0": {source: registers, driver: vfio-pci, netdev: "", rx_packets: 12000,
                     tx_packets: 0, rx_bytes: 816000, tx_bytes: 0}
"""

# Intel 82576 VF (8086:10ca): its statistics registers in BAR 0 (datasheet section 8.28).
REGISTERS = {
    ("0x8086", "0x10ca"): {
        "rx_packets": 0x0F10,  # VFGPRC
        "tx_packets": 0x0F14,  # VFGPTC
        "rx_bytes": 0x0F18,  # VFGORC
        "tx_bytes": 0x0F34,  # VFGOTC
    },
}
# Drivers that give the device to user space: the VF has no interface.
USERSPACE_DRIVERS = ("vfio-pci", "uio_pci_generic", "igb_uio")
STATISTICS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes")


class SriovVfCounters(hostmodule.HostModule):
    def device(self, address, *parts):
        return self.sys("bus/pci/devices", address, *parts)

    def netdev(self, address):
        net = self.device(address, "net")
        names = sorted(os.listdir(net)) if os.path.isdir(net) else []
        return names[0] if names else ""

    def driver(self, address):
        link = self.device(address, "driver")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""

    def from_netdev(self, address, netdev):
        # A driver that copies its registers into the interface's statistics on a timer
        # does so at once for ethtool; one that has no statistics of its own just answers.
        self.command([self.params["ethtool_command"], "-S", netdev], check=False)
        stats = self.device(address, "net", netdev, "statistics")
        return {name: int(self.value(os.path.join(stats, name)) or 0) for name in STATISTICS}

    def from_registers(self, address, offsets):
        path = self.device(address, "resource0")
        end = max(offsets.values()) + 4
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_SYNC", 0))
        try:
            mapped = mmap.mmap(fd, mmap.PAGESIZE * (end // mmap.PAGESIZE + 1),
                               mmap.MAP_SHARED, mmap.PROT_READ)  # fmt: skip
        finally:
            os.close(fd)
        try:
            # One aligned 32-bit load per register: device registers are read whole.
            words = memoryview(mapped).cast("I")
            values = {name: int(words[offset // 4]) for name, offset in offsets.items()}
            words.release()
        finally:
            mapped.close()
        return values

    def read_vf(self, address):
        if not os.path.isdir(self.device(address)):
            raise RuntimeError(f"{self.name('vfs')}: this host has no PCI device {address}")
        netdev, driver = self.netdev(address), self.driver(address)
        deadline = time.monotonic() + self.params["netdev_timeout"]
        kernel_driver = driver not in ("", *USERSPACE_DRIVERS)
        while not netdev and kernel_driver and time.monotonic() < deadline:
            time.sleep(0.5)
            netdev, driver = self.netdev(address), self.driver(address)
        entry = {"driver": driver, "netdev": netdev}
        if netdev:
            return {**entry, "source": "netdev", **self.from_netdev(address, netdev)}
        ident = (self.value(self.device(address, "vendor")),
                 self.value(self.device(address, "device")))  # fmt: skip
        offsets = REGISTERS.get(ident)
        if offsets:
            try:
                return {**entry, "source": "registers",
                        **self.from_registers(address, offsets)}  # fmt: skip
            except OSError as error:
                # A driver holds the BAR (the kernel refuses the mapping): no counters.
                return {**entry, "source": "none", "why": f"resource0: {error.strerror}"}
        return {**entry, "source": "none", "why": f"no counters known for {ident[0]}:{ident[1]}"}

    def run(self):
        return {
            "changed": False,
            "counters": {address: self.read_vf(address) for address in self.params["vfs"]},
        }


ARGUMENT_SPEC = hostmodule.argument_spec(
    {
        "vfs": {"type": "list", "elements": "str", "required": True},
        "ethtool_command": {"type": "str", "default": "ethtool"},
        "netdev_timeout": {"type": "int", "default": 20},
    },
    roots=True,
)


def main():
    hostmodule.run_module(ARGUMENT_SPEC, SriovVfCounters)


if __name__ == "__main__":
    main()
