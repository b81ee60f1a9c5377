"""SR-IOV arithmetic and command lines: VF PCI addresses, ``ip link set PF vf N`` words, and
the commands that give a PF its VFs again at boot (plain Python, no host access)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SYSFS_PCI = "/sys/bus/pci/devices"


def vf_address(pf_address: str, offset: int, stride: int, index: int) -> str:
    """The PCI address of VF ``index`` of the PF at ``pf_address`` ("0000:01:00.0").

    The SR-IOV capability gives the first VF's routing ID as an offset from the PF's and the
    distance between VFs (stride); a routing ID is bus << 8 | device << 3 | function.
    """
    domain, bus, rest = pf_address.split(":")
    device, function = rest.split(".")
    rid = (int(bus, 16) << 8 | int(device, 16) << 3 | int(function)) + offset + index * stride
    return f"{domain}:{rid >> 8:02x}:{(rid >> 3) & 0x1F:02x}.{rid & 0x7}"


def vf_words(settings: Mapping[str, object]) -> list[str]:
    """{"mac": m, "trust": True} -> ["mac", m, "trust", "on"] for ``ip link set PF vf N``."""
    words: list[str] = []
    for key in ("mac", "trust", "spoofchk"):
        if key in settings:
            value = settings[key]
            words += [key, str(value) if key == "mac" else ("on" if value else "off")]
    return words


def _write(value: object, path: str) -> list[str]:
    return ["sh", "-c", f"echo {value} > {path}"]


def boot_commands(
    pf_address: str,
    link_up: str,
    netdev: str,
    vf_settings: Mapping[int, Sequence[str]],
    vf_addresses: Sequence[str],
    vf_driver: str = "",
) -> list[list[str]]:
    """The commands that re-create a PF's VFs after a boot, in the order the driver needs.

    ``link_up`` is the PF's interface when its link comes up first (else ""); ``vf_settings``
    maps a VF index to its ``vf_words``; ``vf_addresses`` are the VFs' PCI addresses;
    ``vf_driver`` the driver each VF is given through its ``driver_override`` ("" for the
    kernel's VF driver). No driver probes the VFs until their MACs are set: a VF driver
    reads its MAC when it binds.
    """
    if not vf_addresses:
        return []
    pf_dir = f"{SYSFS_PCI}/{pf_address}"
    commands = [["ip", "link", "set", "dev", link_up, "up"]] if link_up else []
    commands += [
        _write(0, f"{pf_dir}/sriov_drivers_autoprobe"),
        _write(len(vf_addresses), f"{pf_dir}/sriov_numvfs"),
        _write(1, f"{pf_dir}/sriov_drivers_autoprobe"),
    ]
    for index, words in sorted(vf_settings.items()):
        if words:
            commands.append(["ip", "link", "set", "dev", netdev, "vf", str(index), *words])
    if vf_driver:
        commands.insert(0, ["modprobe", vf_driver.replace("-", "_")])
        commands += [
            _write(vf_driver, f"{SYSFS_PCI}/{address}/driver_override") for address in vf_addresses
        ]
    commands += [_write(address, "/sys/bus/pci/drivers_probe") for address in vf_addresses]
    return commands
