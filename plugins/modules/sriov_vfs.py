#!/usr/bin/python
# Copyright: icperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SR-IOV virtual functions of one physical function: count, MACs, trust, spoof checking."""

from __future__ import annotations

import json
import os

from ansible_collections.icperf.lab.plugins.module_utils import hostmodule, sriovconf
from ansible_collections.icperf.lab.plugins.module_utils.addresses import parse_mac, parse_pci
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

DOCUMENTATION = r"""
---
module: sriov_vfs
short_description: Create the SR-IOV virtual functions of a NIC and set their MACs and flags
version_added: "0.2.0"
description:
  - Gives the physical function (PF) O(pf) exactly O(num_vfs) virtual functions (VFs)
    through C(sriov_numvfs). The count is written only when it must change, C(0) first
    when the PF already has VFs (the kernel refuses any other change of a non-zero count).
  - Sets each VF's MAC address, trust and spoof checking through the PF
    (C(ip link set PF vf N mac M trust on|off spoofchk on|off)), only what differs.
  - "The order the Linux PF drivers need: the PF's link up first (a VF of a PF that is down
    has no link, and igb's VFs see the PF in reset); the VFs created with no driver probing
    them (C(sriov_drivers_autoprobe) 0 while the count is written), their MACs set, and only
    then a driver probed for each VF without one: a VF driver reads its MAC from the PF when
    it binds, so a MAC set while it is bound takes effect after it is bound again, which
    the module does for VFs on a kernel driver (not for vfio-pci: a DPDK process reads the
    MAC when it starts)."
  - With O(vf_driver) empty the VFs get the kernel's own VF driver (C(igbvf) for an 82576);
    a VF held by another driver through an override is given back to it. With
    O(vf_driver=vfio-pci) each VF's C(driver_override) is set before it is probed, so no
    kernel driver holds it even for a moment, and a VF on another driver is moved.
  - Refuses bad input before it changes anything, naming the parameter with O(var_prefix) in
    front, so that a role's error names the role's variable. Refused are a PF that is neither
    a network interface nor a PCI device of the host, a PF without the SR-IOV capability, more
    VFs than the PF's C(sriov_totalvfs), a VF index the PF will not have, a VF PCI address
    that is not the one the PF gives that VF, duplicate VF MAC addresses, and a VF driver the
    host does not have (for vfio-pci, a host without an IOMMU).
author:
  - icperf contributors
options:
  pf:
    description: The PF, by network interface name (C(enp1s0)) or PCI address (C(0000:01:00.0)).
    type: str
    required: true
  num_vfs:
    description: The number of VFs the PF must have; V(0) removes them all.
    type: int
    required: true
  vfs:
    description: Settings of single VFs; VFs not listed keep what they have.
    type: list
    elements: dict
    default: []
    suboptions:
      index:
        description: The VF's number, 0 to O(num_vfs) - 1.
        type: int
        required: true
      mac:
        description: Its MAC address (unicast).
        type: str
      trust:
        description: Trusted VFs may turn on promiscuous mode and change their own MAC.
        type: bool
      spoofchk:
        description: The NIC drops frames the VF sends with a source MAC other than its own.
        type: bool
      pci:
        description:
          - The PCI address the caller expects the VF to have (a lab file names it); checked
            against the PF's SR-IOV offset and stride before any change.
        type: str
  pf_link:
    description:
      - V(up) brings the PF's link up before the VFs are created; V(down) takes it down
        after they are removed (a restore); V(unchanged) leaves it.
    type: str
    choices: [up, down, unchanged]
    default: up
  vf_driver:
    description:
      - The driver of the VFs; empty for the kernel's own VF driver. Its kernel module is
        loaded when it is not. V(vfio-pci) needs the IOMMU on.
    type: str
    choices: ["", vfio-pci, uio_pci_generic, igb_uio]
    default: ""
  ip_command:
    description: The iproute2 C(ip) binary.
    type: str
    default: ip
extends_documentation_fragment:
  - icperf.lab.host
  - icperf.lab.host.roots
attributes:
  diff_mode:
    support: none
notes:
  - The PF's own driver must support SR-IOV (C(igb), C(ixgbe), C(i40e), C(mlx5_core), ...);
    a device without C(sriov_totalvfs) in sysfs has no SR-IOV capability or no such driver.
  - VFs disappear at reboot; the C(sriov) role re-creates them at boot with a systemd unit.
seealso:
  - name: The Linux kernel's PCI SR-IOV HOWTO
    description: C(sriov_numvfs), C(sriov_totalvfs), C(sriov_drivers_autoprobe).
    link: https://docs.kernel.org/PCI/pci-iov-howto.html
"""

EXAMPLES = r"""
- name: Two VFs on the lab NIC, with the lab's MACs, spoof checking on
  icperf.lab.sriov_vfs:
    pf: enp1s0
    num_vfs: 2
    vfs:
      - {index: 0, mac: "02:00:00:00:01:00", trust: false, spoofchk: true}
      - {index: 1, mac: "02:00:00:00:01:01", trust: false, spoofchk: true}
  register: sriov

- name: Check that the lab's VF PCI addresses are the PF's, changing nothing
  icperf.lab.sriov_vfs:
    pf: "0000:01:00.0"
    num_vfs: 2
    vfs:
      - {index: 0, pci: "0000:01:10.0"}
      - {index: 1, pci: "0000:01:10.2"}
  check_mode: true

- name: Remove the VFs and take the PF down again
  icperf.lab.sriov_vfs:
    pf: enp1s0
    num_vfs: 0
    pf_link: down
"""

RETURN = r"""
pf:
  description: The PF as it is after the run.
  returned: always
  type: dict
  sample:
    address: "0000:01:00.0"
    netdev: enp1s0
    driver: igb
    totalvfs: 7
    numvfs: 2
    up: true
vfs:
  description:
    - The PF's VFs after the run, by index (in check mode, the VFs the run would create with
      their PCI addresses and the settings asked).
  returned: always
  type: list
  elements: dict
  sample:
    - {pf: "0000:01:00.0", index: 0, pci: "0000:01:10.0", netdev: enp1s16, driver: igbvf,
       mac: "02:00:00:00:01:00", trust: false, spoofchk: true}
  contains:
    pf: {description: The PF's PCI address., type: str}
    index: {description: The VF's number., type: int}
    pci: {description: Its PCI address., type: str}
    netdev: {description: Its network interface on this host (empty when none)., type: str}
    driver: {description: The driver bound to it (empty when none)., type: str}
    mac: {description: Its MAC address as the PF holds it., type: str}
    trust: {description: Trusted., type: bool}
    spoofchk: {description: Spoof checking on., type: bool}
actions:
  description: What the run did (or would do, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["link enp1s0 up", "sriov_numvfs 0 -> 2", "vf 0 mac 02:00:00:00:01:00",
           "bind 0000:01:10.0 to its kernel driver"]
boot_commands:
  description:
    - The commands that give the PF this configuration again after a boot, in order (a
      systemd unit runs them); empty with O(num_vfs=0).
  returned: always
  type: list
  elements: list
"""

IFF_UP = 0x1
# VF drivers of the kernel that read the MAC from the PF when they bind: a MAC changed
# under them needs a rebind. vfio-pci hands the device to user space instead.
USER_SPACE_DRIVERS = ("vfio-pci", "uio_pci_generic", "igb_uio")


def parse_pci_or_none(text):
    try:
        return parse_pci(text, "pf")
    except IcperfInputError:
        return None


class SriovVfs(hostmodule.HostModule):
    """Checks, creates and sets the VFs; the module's logic without Ansible's I/O."""

    def __init__(self, module):
        super().__init__(module)
        self.actions = []

    # -- reading the host ------------------------------------------------------------------

    def write_attr(self, path, value):
        """Write one sysfs attribute (the kernel acts on the write)."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"{value}\n")

    @staticmethod
    def link_name(path):
        return os.path.basename(os.readlink(path)) if os.path.islink(path) else ""

    def device_dir(self, address):
        return self.sys("bus/pci/devices", address)

    def netdev_of(self, address):
        net = os.path.join(self.device_dir(address), "net")
        names = sorted(os.listdir(net)) if os.path.isdir(net) else []
        return names[0] if names else ""

    def resolve_pf(self):
        """The PF's PCI address and netdev, or an error naming pf."""
        given = str(self.params["pf"]).strip()
        name = self.name("pf")
        try:
            address = parse_pci(given, name)
        except IcperfInputError:
            if not given or "/" in given or not os.path.exists(self.sys("class/net", given)):
                raise IcperfInputError(
                    f"{name}: {given!r} is neither a network interface nor a PCI device of "
                    f"this host (its interfaces: {', '.join(self.host_netdevs()) or 'none'})"
                ) from None
            address = self.pci_parent(self.sys("class/net", given, "device"))
            if not address:
                raise IcperfInputError(
                    f"{name}: {given} is a network interface without a PCI device (a virtual "
                    "one): an SR-IOV PF is a PCI function"
                ) from None
            return address, given
        if not os.path.isdir(self.device_dir(address)):
            raise IcperfInputError(f"{name}: this host has no PCI device {address}")
        return address, self.netdev_of(address)

    @staticmethod
    def pci_parent(device):
        """The PCI address of ``device`` or of the nearest PCI device above it (a virtio NIC's
        netdev belongs to a virtio device on a PCI function); "" when there is none."""
        path = os.path.realpath(device) if os.path.exists(device) else ""
        while path and path != os.path.dirname(path):
            try:
                return parse_pci(os.path.basename(path), "device")
            except IcperfInputError:
                path = os.path.dirname(path)
        return ""

    def host_netdevs(self):
        net = self.sys("class/net")
        return sorted(n for n in os.listdir(net) if n != "lo") if os.path.isdir(net) else []

    def vf_address(self, pf_address, index):
        """The PCI address the PF gives VF ``index`` (its SR-IOV offset and stride)."""
        pf_dir = self.device_dir(pf_address)
        offset = int(self.value(os.path.join(pf_dir, "sriov_offset")) or 0)
        stride = int(self.value(os.path.join(pf_dir, "sriov_stride")) or 1)
        return sriovconf.vf_address(pf_address, offset, stride, index)

    def pf_up(self, netdev):
        flags = self.value(self.sys("class/net", netdev, "flags")) or "0x0"
        return bool(int(flags, 16) & IFF_UP)

    def vf_settings(self, netdev):
        """{index: {mac, trust, spoofchk}} as the PF reports them (ip -j link show)."""
        if not netdev:
            return {}
        _, out = self.ip(["-j", "link", "show", "dev", netdev])
        try:
            links = json.loads(out or "[]")
        except ValueError as error:
            raise RuntimeError(f"ip -j link show dev {netdev}: not JSON ({error})") from None
        settings = {}
        for vf in (links[0] if links else {}).get("vfinfo_list", []):
            settings[int(vf["vf"])] = {
                "mac": str(vf.get("address", "")).lower(),
                "trust": bool(vf.get("trust", False)),
                "spoofchk": bool(vf.get("spoofchk", False)),
            }
        return settings

    def ip(self, args):
        return self.command([self.params["ip_command"], *args])

    # -- what is asked ----------------------------------------------------------------------

    def check(self, address, netdev):
        """Refuse bad input (nothing has changed yet); return the VF settings asked."""
        pf_dir = self.device_dir(address)
        total = self.value(os.path.join(pf_dir, "sriov_totalvfs"))
        if not total:
            driver = self.link_name(os.path.join(pf_dir, "driver")) or "no driver"
            given = str(self.params["pf"]).strip()
            what = f"{address}, {driver}" if parse_pci_or_none(given) != address else driver
            raise IcperfInputError(
                f"{self.name('pf')}: {given} ({what}) has no SR-IOV "
                "capability (no sriov_totalvfs): not an SR-IOV NIC, a driver without SR-IOV, "
                "or a VF itself"
            )
        num_vfs = self.params["num_vfs"]
        if num_vfs < 0 or num_vfs > int(total):
            raise IcperfInputError(
                f"{self.name('num_vfs')}: {num_vfs} VFs asked, but {address} has "
                f"sriov_totalvfs = {total} (0 to {total})"
            )
        self.check_driver(pf_dir)
        wanted = {}
        macs = {}
        for position, entry in enumerate(self.params["vfs"] or []):
            where = f"{self.name('vfs')}[{position}]"
            index = entry.get("index")
            if not isinstance(index, int) or index < 0 or index >= num_vfs:
                raise IcperfInputError(
                    f"{where}.index: VF {index} asked, but {address} will have {num_vfs} VFs "
                    f"(indexes 0 to {num_vfs - 1}; {self.name('num_vfs')})"
                    if num_vfs
                    else f"{where}.index: VF {index} asked, but {self.name('num_vfs')} is 0"
                )
            if index in wanted:
                raise IcperfInputError(f"{where}.index: VF {index} is listed twice")
            settings = {}
            if entry.get("mac") is not None:
                mac = parse_mac(entry["mac"], f"{where}.mac")
                if mac in macs:
                    raise IcperfInputError(f"{where}.mac: {mac} duplicates {macs[mac]}.mac")
                macs[mac] = where
                settings["mac"] = mac
            for flag in ("trust", "spoofchk"):
                if entry.get(flag) is not None:
                    settings[flag] = bool(entry[flag])
            if entry.get("pci") is not None:
                pci = parse_pci(entry["pci"], f"{where}.pci")
                expected = self.vf_address(address, index)
                if pci != expected:
                    raise IcperfInputError(
                        f"{where}.pci: {pci} is not a VF of {address}: its VF {index} is {expected}"
                    )
            wanted[index] = settings
        if wanted and not netdev:
            raise IcperfInputError(
                f"{self.name('pf')}: {address} has no network interface (its driver is "
                f"{self.link_name(os.path.join(pf_dir, 'driver')) or 'none'}): VF settings are "
                "made through the PF's interface"
            )
        return wanted

    def check_driver(self, pf_dir):
        want = self.params["vf_driver"]
        if not want:
            return
        module = want.replace("-", "_")
        if not self.driver_loaded():
            dry_run = [self.binary("modprobe"), "--dry-run", module]
            rc, out, err = self.module.run_command(dry_run)
            if rc != 0:
                raise IcperfInputError(
                    f"{self.name('vf_driver')}: this host has no {want} driver "
                    f"(modprobe {module}: {(err or out).strip() or f'rc {rc}'})"
                )
        if want == "vfio-pci" and not os.path.exists(os.path.join(pf_dir, "iommu_group")):
            raise IcperfInputError(
                f"{self.name('vf_driver')}: vfio-pci needs an IOMMU, and {self.params['pf']} "
                "is in no IOMMU group (turn the IOMMU on: kernel_cmdline_iommu)"
            )

    def driver_loaded(self):
        return os.path.isdir(self.sys("bus/pci/drivers", self.params["vf_driver"]))

    # -- doing it -------------------------------------------------------------------------

    def set_count(self, address, current, num_vfs):
        pf_dir = self.device_dir(address)
        numvfs = os.path.join(pf_dir, "sriov_numvfs")
        if current:
            self.write_attr(numvfs, 0)
        if not num_vfs:
            return ""
        # No driver may take the new VFs until their MACs are set (see DOCUMENTATION). The
        # kernel asks the PF's autoprobe whenever a driver would bind a VF, also when udev
        # loads the VF driver's module a moment after the VFs appeared: it stays 0 until
        # run() has set the MACs; the caller restores it.
        autoprobe = self.value(self.autoprobe_file(address))
        if autoprobe in ("", "0"):
            autoprobe = ""
        else:
            self.write_attr(self.autoprobe_file(address), 0)
        try:
            self.write_attr(numvfs, num_vfs)
        except BaseException:
            if autoprobe:
                self.write_attr(self.autoprobe_file(address), autoprobe)
            raise
        return autoprobe

    def autoprobe_file(self, address):
        return os.path.join(self.device_dir(address), "sriov_drivers_autoprobe")

    def vf_state(self, address, index, settings):
        vf_dir = self.sys("bus/pci/devices", address, f"virtfn{index}")
        pci = os.path.basename(os.path.realpath(vf_dir)) if os.path.islink(vf_dir) else ""
        if not pci:
            pci = self.vf_address(address, index)
        return {
            "pf": address,
            "index": index,
            "pci": pci,
            "netdev": self.netdev_of(pci),
            "driver": self.link_name(os.path.join(self.device_dir(pci), "driver")),
            "mac": settings.get("mac", ""),
            "trust": settings.get("trust", False),
            "spoofchk": settings.get("spoofchk", False),
        }

    def place(self, vf, new_mac):
        """Bind a VF to the driver asked, after its MAC is set; a kernel VF driver whose MAC
        changed is bound again (it reads the MAC from the PF when it binds)."""
        pci, driver, want = vf["pci"], vf["driver"], self.params["vf_driver"]
        override_file = os.path.join(self.device_dir(pci), "driver_override")
        override = self.value(override_file)
        override = "" if override == "(null)" else override
        elsewhere = driver != want if want else bool(override) or driver in USER_SPACE_DRIVERS
        move = elsewhere or (new_mac and driver and driver not in USER_SPACE_DRIVERS)
        if not move and driver:
            return
        self.actions.append(
            f"bind {pci} to {want or 'its kernel driver'}" + (f" (from {driver})" if driver else "")
        )
        if self.module.check_mode:
            return
        if override != want:
            # An empty line clears the override.
            self.write_attr(override_file, want)
        if driver:
            self.write_attr(self.sys("bus/pci/drivers", driver, "unbind"), pci)
        self.write_attr(self.sys("bus/pci/drivers_probe"), pci)

    def set_vfs(self, netdev, wanted, created):
        """MAC, trust and spoof checking of each VF asked, where they differ; returns the
        settings found and the VFs whose MAC changed."""
        have = self.vf_settings(netdev) if created else {}
        remac = set()
        for index, settings in sorted(wanted.items()):
            now = have.get(index, {})
            differ = {key: value for key, value in settings.items() if now.get(key) != value}
            words = sriovconf.vf_words(differ)
            remac |= {index} if "mac" in differ else set()
            if words:
                self.actions.append(f"vf {index} " + " ".join(words))
                if not self.module.check_mode:
                    self.ip(["link", "set", "dev", netdev, "vf", str(index), *words])
        return have, remac

    def settle(self):
        udevadm = self.module.get_bin_path("udevadm")
        if udevadm:
            self.command([udevadm, "settle", "--timeout=30"], check=False)

    def run(self):
        address, netdev = self.resolve_pf()
        wanted = self.check(address, netdev)
        check = self.module.check_mode
        num_vfs = self.params["num_vfs"]
        pf_dir = self.device_dir(address)
        link = self.params["pf_link"]

        if self.params["vf_driver"] and not self.driver_loaded():
            module = self.params["vf_driver"].replace("-", "_")
            self.actions.append(f"modprobe {module}")
            if not check:
                self.command(["modprobe", module])

        if netdev and link == "up" and not self.pf_up(netdev):
            self.actions.append(f"link {netdev} up")
            if not check:
                self.ip(["link", "set", "dev", netdev, "up"])

        current = int(self.value(os.path.join(pf_dir, "sriov_numvfs")) or 0)
        autoprobe = ""
        if current != num_vfs:
            self.actions.append(f"sriov_numvfs {current} -> {num_vfs}")
            if not check:
                autoprobe = self.set_count(address, current, num_vfs)
        created = not check or current == num_vfs

        try:
            have, remac = self.set_vfs(netdev, wanted, created)
            if autoprobe and self.params["vf_driver"]:
                # Also before autoprobe is back: the VF driver's module may load any time.
                for index in range(num_vfs):
                    vf_dir = self.device_dir(self.vf_address(address, index))
                    self.write_attr(
                        os.path.join(vf_dir, "driver_override"), self.params["vf_driver"]
                    )
        finally:
            if autoprobe:
                self.write_attr(self.autoprobe_file(address), autoprobe)

        vfs = []
        after = self.vf_settings(netdev) if created and not check else have
        settings = {
            index: {**after.get(index, {}), **(wanted.get(index, {}) if check else {})}
            for index in range(num_vfs)
        }
        bound = len(self.actions)
        for index in range(num_vfs):
            vf = self.vf_state(address, index, settings[index])
            vfs.append(vf)
            if created:
                self.place(vf, index in remac)
        if len(self.actions) > bound and not check:
            # udev renames a new VF interface after its driver registered it: report the
            # names the host keeps.
            self.settle()
            vfs = [self.vf_state(address, index, settings[index]) for index in range(num_vfs)]

        if netdev and link == "down" and self.pf_up(netdev):
            self.actions.append(f"link {netdev} down")
            if not check:
                self.ip(["link", "set", "dev", netdev, "down"])

        return {
            "changed": bool(self.actions),
            "actions": self.actions,
            "pf": {
                "address": address,
                "netdev": netdev,
                "driver": self.link_name(os.path.join(pf_dir, "driver")),
                "totalvfs": int(self.value(os.path.join(pf_dir, "sriov_totalvfs"))),
                "numvfs": int(self.value(os.path.join(pf_dir, "sriov_numvfs")) or 0),
                "up": bool(netdev) and self.pf_up(netdev),
            },
            "vfs": vfs,
            "boot_commands": self.boot_commands(address, netdev, wanted),
        }

    def boot_commands(self, address, netdev, wanted):
        num_vfs = self.params["num_vfs"]
        return sriovconf.boot_commands(
            address,
            netdev if self.params["pf_link"] == "up" else "",
            netdev,
            {index: sriovconf.vf_words(settings) for index, settings in wanted.items()},
            [self.vf_address(address, index) for index in range(num_vfs)],
            self.params["vf_driver"],
        )


ARGUMENT_SPEC = hostmodule.argument_spec(
    {
        "pf": {"type": "str", "required": True},
        "num_vfs": {"type": "int", "required": True},
        "vfs": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "index": {"type": "int", "required": True},
                "mac": {"type": "str"},
                "trust": {"type": "bool"},
                "spoofchk": {"type": "bool"},
                "pci": {"type": "str"},
            },
        },
        "pf_link": {"type": "str", "default": "up", "choices": ["up", "down", "unchanged"]},
        "vf_driver": {
            "type": "str",
            "default": "",
            "choices": ["", "vfio-pci", "uio_pci_generic", "igb_uio"],
        },
        "ip_command": {"type": "str", "default": "ip"},
    },
    roots=True,
)


def main():
    hostmodule.run_module(ARGUMENT_SPEC, SriovVfs)


if __name__ == "__main__":
    main()
