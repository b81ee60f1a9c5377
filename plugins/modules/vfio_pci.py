#!/usr/bin/python
# Copyright: icperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bind PCI devices to vfio-pci with a driver override, and give them back."""

from __future__ import annotations

import json
import os
import re

from ansible_collections.icperf.lab.plugins.module_utils import hostmodule
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

DOCUMENTATION = r"""
---
module: vfio_pci
short_description: Bind PCI devices to vfio-pci for DPDK, remember their drivers, give them back
version_added: "0.2.0"
description:
  - Binds each device of O(devices) to O(driver) (V(vfio-pci) unless told otherwise) through
    the kernel's C(driver_override), loading the driver's kernel module first when it is not
    loaded. A device already bound to O(driver) is left alone (unbinding a device that a DPDK
    process holds blocks until the process lets go).
  - With O(persistent=true) the override is also saved the way C(driverctl) saves it, in
    C(/etc/driverctl.d/pci-<address>); driverctl's udev rule applies it at every boot, before
    the device's own driver can claim it (the driverctl package must be installed).
  - The first time it binds a device, the module writes the driver the device had (or none)
    to O(state_file). O(state=restored) removes the override, saved or not, and binds each
    device to that driver again (or to the one the kernel picks when none was remembered).
  - Refuses bad input before it changes anything, naming the parameter with O(var_prefix) in
    front, so that a role's error names the role's variable. Refused are a malformed PCI
    address, a device this host does not have, a driver this host does not have, and for
    vfio-pci a device in no IOMMU group (the kernel runs without an IOMMU) or one whose IOMMU
    group holds another device that a kernel driver keeps (vfio-pci needs the whole group). A
    device whose network interface carries IPv4 routes (the host's own connection, most likely)
    is refused unless O(allow_routed=true).
author:
  - icperf contributors
options:
  devices:
    description:
      - PCI addresses, C(0000:03:00.0) or C(03:00.0). With O(state=restored) an empty list
        means every device O(state_file) remembers.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(bound) binds the devices to O(driver); V(restored) gives them back to the drivers
        they had before.
    type: str
    choices: [bound, restored]
    default: bound
  driver:
    description:
      - The driver to bind to. V(vfio-pci) needs an IOMMU; V(uio_pci_generic) and V(igb_uio)
        (Debian's C(dpdk-kmods-dkms)) do not.
    type: str
    choices: [vfio-pci, uio_pci_generic, igb_uio]
    default: vfio-pci
  persistent:
    description:
      - Save the override for the next boots (C(/etc/driverctl.d/)). V(false) binds until the
        next boot and leaves a saved override alone.
    type: bool
    default: true
  allow_routed:
    description: Bind a device whose network interface carries IPv4 routes.
    type: bool
    default: false
  state_file:
    description: JSON file remembering the driver each device had before its first binding.
    type: path
    default: /var/lib/icperf/vfio.json
  driverctl_dir:
    description: Where driverctl keeps its saved overrides.
    type: path
    default: /etc/driverctl.d
extends_documentation_fragment:
  - icperf.lab.host
  - icperf.lab.host.roots
attributes:
  diff_mode:
    support: none
notes:
  - The module never unbinds a device from O(driver) itself; stop the DPDK processes that hold
    a device before restoring it.
seealso:
  - name: The Linux kernel's VFIO documentation
    description: IOMMU groups, and why vfio-pci needs every device of a group.
    link: https://docs.kernel.org/driver-api/vfio.html
"""

EXAMPLES = r"""
- name: Give two NICs to DPDK, at this boot and the next ones
  icperf.lab.vfio_pci:
    devices: ["0000:03:00.0", "0000:03:00.1"]

- name: Check without changing anything that they are still bound (after a reboot)
  icperf.lab.vfio_pci:
    devices: ["0000:03:00.0", "0000:03:00.1"]
  check_mode: true
  register: vfio
  failed_when: vfio.changed

- name: Give every device bound earlier back to its own driver
  icperf.lab.vfio_pci:
    state: restored
"""

RETURN = r"""
devices:
  description: Each device handled, by address, as it is after the run.
  returned: always
  type: dict
  sample:
    "0000:03:00.0":
      driver: vfio-pci
      previous: igb
      iommu_group: "14"
      vendor: "0x8086"
      device: "0x10c9"
      saved: true
  contains:
    driver:
      description: The driver the device is bound to (empty when none).
      type: str
    previous:
      description:
        - The driver the device had before its first binding (empty for none, null when
          unknown).
      type: str
    iommu_group:
      description: The device's IOMMU group (null without an IOMMU).
      type: str
    saved:
      description: Whether driverctl holds an override for the device (it applies it at boot).
      type: bool
changed_devices:
  description: The devices this run bound or gave back (or would have, in check mode).
  returned: always
  type: list
  elements: str
loaded:
  description: The driver's kernel module was loaded by this run.
  returned: always
  type: bool
forgotten:
  description:
    - With O(state=restored) and no O(devices), remembered devices this host no longer has;
      they are taken out of O(state_file).
  returned: when O(state=restored)
  type: list
  elements: str
"""

ADDRESS_RE = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{4,8}):)?(?P<bus>[0-9a-fA-F]{2}):(?P<slot>[0-9a-fA-F]{2})"
    r"\.(?P<function>[0-7])$"
)
VFIO_DRIVERS = ("vfio-pci",)
# Drivers that may hold other devices of a vfio-pci device's IOMMU group (the kernel's rule:
# vfio drivers, pci-stub, bridges' port driver, or none).
GROUP_SAFE_DRIVERS = ("", "vfio-pci", "pci-stub", "pcieport")


def normalise_address(text):
    """'03:00.0' -> '0000:03:00.0'; None when it is no PCI address."""
    match = ADDRESS_RE.match(str(text).strip())
    if not match:
        return None
    domain = (match.group("domain") or "0000").lower()
    return (
        f"{domain}:{match.group('bus').lower()}:{match.group('slot').lower()}"
        f".{match.group('function')}"
    )


class VfioPci(hostmodule.HostModule):
    """Checks, binds and restores; the module's logic without Ansible's I/O."""

    def __init__(self, module):
        super().__init__(module)
        self.driver = self.params["driver"]
        self.loaded = False

    # -- reading the host ------------------------------------------------------------------

    def device_dir(self, address):
        return self.sys("bus/pci/devices", address)

    def current_driver(self, address):
        link = os.path.join(self.device_dir(address), "driver")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""

    def override(self, address):
        value = self.value(os.path.join(self.device_dir(address), "driver_override"))
        return "" if value == "(null)" else value

    def iommu_group(self, address):
        link = os.path.join(self.device_dir(address), "iommu_group")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def group_members(self, group):
        path = self.sys("kernel/iommu_groups", group, "devices")
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def interfaces(self, address):
        """Network interfaces of the device: in its net/ or, as virtio's, a child's net/."""
        device = self.device_dir(address)
        found = []
        children = [""] + [
            entry
            for entry in sorted(os.listdir(device))
            if os.path.isdir(os.path.join(device, entry))
            and not os.path.islink(os.path.join(device, entry))
        ]
        for child in children:
            path = os.path.join(device, child, "net")
            if os.path.isdir(path):
                found.extend(sorted(os.listdir(path)))
        return found

    def routed_interfaces(self):
        """Interfaces holding IPv4 routes (/proc/net/route), the connection's among them."""
        text = self.value(self.proc("net/route"))
        return {line.split()[0] for line in text.splitlines()[1:] if line.split()}

    def saved_path(self, address):
        return os.path.join(self.params["driverctl_dir"], f"pci-{address}")

    def saved_override(self, address):
        return self.value(self.saved_path(address))

    def driver_present(self, driver):
        return os.path.isdir(self.sys("bus/pci/drivers", driver))

    def driver_available(self, driver):
        """Loaded, built in, or a module modprobe can find (a dry run)."""
        if self.driver_present(driver):
            return True
        rc, _ = self.command(["modprobe", "--dry-run", "--quiet", driver], check=False)
        return rc == 0

    def pci_devices(self):
        path = self.sys("bus/pci/devices")
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def describe(self, address):
        group = self.iommu_group(address)
        return {
            "driver": self.current_driver(address),
            "iommu_group": group,
            "vendor": self.value(os.path.join(self.device_dir(address), "vendor")),
            "device": self.value(os.path.join(self.device_dir(address), "device")),
            "saved": bool(self.saved_override(address)),
        }

    def read_state(self):
        try:
            with open(self.params["state_file"], encoding="utf-8") as handle:
                state = json.load(handle)
        except FileNotFoundError:
            return {"devices": {}}
        except ValueError as error:
            raise RuntimeError(f"{self.params['state_file']}: not JSON ({error})") from error
        state.setdefault("devices", {})
        return state

    # -- checking what is asked -------------------------------------------------------------

    def addresses(self, allow_empty):
        name = self.name("devices")
        addresses = []
        for text in self.params["devices"]:
            address = normalise_address(text)
            if address is None:
                raise IcperfInputError(
                    f"{name}: {text!r} is not a PCI address (domain:bus:slot.function, "
                    "such as 0000:03:00.0)"
                )
            if address not in addresses:
                addresses.append(address)
        if not addresses and not allow_empty:
            raise IcperfInputError(f"{name}: no device given")
        return addresses

    def _network_devices(self):
        found = []
        for address in self.pci_devices():
            if self.value(os.path.join(self.device_dir(address), "class")).startswith("0x02"):
                driver = self.current_driver(address) or "no driver"
                found.append(f"{address} ({driver})")
        return ", ".join(found) or "none"

    def check_exists(self, addresses):
        absent = [address for address in addresses if not os.path.isdir(self.device_dir(address))]
        if absent:
            raise IcperfInputError(
                f"{self.name('devices')}: {', '.join(absent)} "
                f"{'is not a PCI device' if len(absent) == 1 else 'are not PCI devices'} of "
                f"this host (its network devices: {self._network_devices()})"
            )
        for address in addresses:
            if not os.path.exists(os.path.join(self.device_dir(address), "driver_override")):
                raise IcperfInputError(
                    f"{self.name('devices')}: {address} has no driver_override (kernel too old)"
                )

    def check_bindable(self, addresses):
        """Everything that must hold before a device is bound; raises naming the variable."""
        name = self.name("devices")
        if not self.driver_available(self.driver):
            hint = "; igb_uio comes from dpdk-kmods-dkms" if self.driver == "igb_uio" else ""
            raise IcperfInputError(
                f"{self.name('driver')}: this host has no {self.driver} driver (no kernel "
                f"module of that name{hint})"
            )
        if not self.params["allow_routed"]:
            routed = self.routed_interfaces()
            for address in addresses:
                if self.current_driver(address) == self.driver:
                    continue
                busy = [ifname for ifname in self.interfaces(address) if ifname in routed]
                if busy:
                    raise IcperfInputError(
                        f"{name}: {address} is {', '.join(busy)}, which carries IPv4 routes "
                        f"(this host's connection?); binding it to {self.driver} would take it "
                        f"away. Set {self.name('allow_routed')} to bind it anyway"
                    )
        if self.driver not in VFIO_DRIVERS:
            return
        for address in addresses:
            group = self.iommu_group(address)
            if group is None:
                raise IcperfInputError(
                    f"{name}: {address} is in no IOMMU group: the kernel runs without an "
                    "IOMMU, which vfio-pci needs (turn VT-d/AMD-Vi on in the firmware and "
                    "kernel_cmdline_iommu on the kernel command line)"
                )
            for member in self.group_members(group):
                if member in addresses:
                    continue
                driver = self.current_driver(member)
                if driver not in GROUP_SAFE_DRIVERS:
                    raise IcperfInputError(
                        f"{name}: {address} shares IOMMU group {group} with {member} (driver "
                        f"{driver}); vfio-pci needs every device of the group: add {member} "
                        f"to {name}"
                    )

    # -- changing the host ------------------------------------------------------------------

    def _write(self, path, value):
        """Write a sysfs attribute (one write, as the kernel expects)."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(value)

    def write_state(self, state):
        text = json.dumps(state, indent=2, sort_keys=True) + "\n"
        self.write_file(self.params["state_file"], text)

    def load_driver(self, driver):
        if self.driver_present(driver):
            return
        self.command(["modprobe", driver], tail=1000)
        if not self.driver_present(driver):
            raise RuntimeError(f"modprobe {driver}: no {driver} driver in sysfs afterwards")
        self.loaded = self.loaded or driver == self.driver

    def bind(self, address):
        """driver_override, unbind from the current driver, let the kernel probe again."""
        device = self.device_dir(address)
        self._write(os.path.join(device, "driver_override"), self.driver)
        if self.current_driver(address):
            self._write(os.path.join(device, "driver/unbind"), address)
        self._write(self.sys("bus/pci/drivers_probe"), address)
        now = self.current_driver(address)
        if now != self.driver:
            raise RuntimeError(
                f"{address}: bound to {now or 'no driver'} after the override to "
                f"{self.driver} (dmesg may say why)"
            )

    def give_back(self, address, previous):
        """Clear the override and bind the remembered driver (the kernel's pick if unknown)."""
        device = self.device_dir(address)
        self._write(os.path.join(device, "driver_override"), "\n")
        current = self.current_driver(address)
        if current and current != previous:
            self._write(os.path.join(device, "driver/unbind"), address)
        if previous:
            if self.current_driver(address) != previous:
                self.load_driver(previous)
                self._write(self.sys("bus/pci/drivers", previous, "bind"), address)
        elif previous is None:
            self._write(self.sys("bus/pci/drivers_probe"), address)
        now = self.current_driver(address)
        if previous is not None and now != previous:
            raise RuntimeError(
                f"{address}: bound to {now or 'no driver'} after giving it back to "
                f"{previous or 'no driver'} (dmesg may say why)"
            )

    # -- the two states ---------------------------------------------------------------------

    def run_bound(self):
        addresses = self.addresses(allow_empty=False)
        self.check_exists(addresses)
        self.check_bindable(addresses)
        persistent = self.params["persistent"]
        state = self.read_state()
        to_bind = [a for a in addresses if self.current_driver(a) != self.driver]
        to_save = [a for a in addresses if persistent and self.saved_override(a) != self.driver]
        to_remember = [a for a in addresses if a not in state["devices"] and a in to_bind]
        changed = sorted(set(to_bind) | set(to_save))
        if not self.module.check_mode:
            if to_remember:
                for address in to_remember:
                    info = self.describe(address)
                    state["devices"][address] = {
                        "driver": info["driver"],
                        "vendor": info["vendor"],
                        "device": info["device"],
                    }
                self.write_state(state)
            if to_bind:
                self.load_driver(self.driver)
            for address in to_bind:
                self.bind(address)
            for address in to_save:
                self.write_file(self.saved_path(address), f"{self.driver}\n")
        previous = {
            a: state["devices"][a]["driver"] if a in state["devices"] else None for a in addresses
        }
        return self.result(addresses, previous, changed)

    def run_restored(self):
        addresses = self.addresses(allow_empty=True)
        state = self.read_state()
        forgotten = []
        if not addresses:
            # Every device remembered; one that is gone (a NIC taken out) is forgotten.
            addresses = [a for a in sorted(state["devices"]) if os.path.isdir(self.device_dir(a))]
            forgotten = [a for a in sorted(state["devices"]) if a not in addresses]
        self.check_exists(addresses)
        previous = {
            a: state["devices"][a]["driver"] if a in state["devices"] else None for a in addresses
        }
        changed = [
            a
            for a in addresses
            if a in state["devices"]
            or self.override(a)
            or self.saved_override(a)
            or self.current_driver(a) == self.driver
        ]
        if not self.module.check_mode:
            for address in forgotten:
                state["devices"].pop(address)
            if forgotten:
                self.write_state(state)
            for address in changed:
                saved = self.saved_path(address)
                if os.path.exists(saved):
                    os.remove(saved)
                self.give_back(address, previous[address])
                state["devices"].pop(address, None)
                self.write_state(state)
        result = self.result(addresses, previous, changed + forgotten)
        result["forgotten"] = forgotten
        return result

    def result(self, addresses, previous, changed):
        devices = {}
        for address in addresses:
            devices[address] = {**self.describe(address), "previous": previous.get(address)}
        return {
            "changed": bool(changed),
            "devices": devices,
            "changed_devices": changed,
            "loaded": self.loaded,
        }

    def run(self):
        if self.params["state"] == "restored":
            return self.run_restored()
        return self.run_bound()


ARGUMENT_SPEC = hostmodule.argument_spec(
    {
        "devices": {"type": "list", "elements": "str", "default": []},
        "state": {"type": "str", "default": "bound", "choices": ["bound", "restored"]},
        "driver": {
            "type": "str",
            "default": "vfio-pci",
            "choices": ["vfio-pci", "uio_pci_generic", "igb_uio"],
        },
        "persistent": {"type": "bool", "default": True},
        "allow_routed": {"type": "bool", "default": False},
        "state_file": {"type": "path", "default": "/var/lib/icperf/vfio.json"},
        "driverctl_dir": {"type": "path", "default": "/etc/driverctl.d"},
    },
    roots=True,
)


def main():
    hostmodule.run_module(ARGUMENT_SPEC, VfioPci)


if __name__ == "__main__":
    main()
