"""SR-IOV arithmetic and command lines: VF PCI addresses, ``ip link set PF vf N`` words, and
the commands that give a PF its VFs again at boot (plain Python, no host access)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

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
    ]
    for index, words in sorted(vf_settings.items()):
        if words:
            commands.append(["ip", "link", "set", "dev", netdev, "vf", str(index), *words])
    if vf_driver:
        commands.insert(0, ["modprobe", vf_driver.replace("-", "_")])
        commands += [
            _write(vf_driver, f"{SYSFS_PCI}/{address}/driver_override") for address in vf_addresses
        ]
    commands.append(_write(1, f"{pf_dir}/sriov_drivers_autoprobe"))
    commands += [_write(address, "/sys/bus/pci/drivers_probe") for address in vf_addresses]
    return commands


def _find(
    container: Mapping[str, Any],
    position: int,
    by_pci: Mapping[str, Mapping[str, Any]],
    by_netdev: Mapping[str, Mapping[str, Any]],
    field: str,
) -> Mapping[str, Any]:
    where = f"{field}[{position}]"
    known = (
        ", ".join(
            f"{vf['pci']}" + (f" ({vf['netdev']})" if vf.get("netdev") else "")
            for vf in by_pci.values()
        )
        or "none"
    )
    # By PCI address when the lab gives one, else by the VF's interface name.
    for key, table, what in (("vf_pci", by_pci, "a VF"), ("vf", by_netdev, "a VF interface")):
        if container.get(key):
            vf = table.get(str(container[key]))
            if vf is None:
                raise IcperfInputError(
                    f"{where}.{key}: {container['name']}'s VF {container[key]} is not {what} "
                    f"of the PFs in sriov_pfs (their VFs: {known})"
                    + (
                        ""
                        if key == "vf_pci"
                        else "; a lab that names vf_pci finds VFs before they exist"
                    )
                )
            return vf
    raise IcperfInputError(f"{where}.vf_pci: {container.get('name')} names no VF")


def wire_pf(checked: Sequence[Mapping[str, Any]], wire_nic: object) -> Mapping[str, Any]:
    """The result of ``checked`` (sriov_vfs results for sriov_pfs) whose PF is the NIC
    ``wire_nic`` (icperf_wire_nic: its PCI address or interface name).

    Frames between VFs of two hosts leave through the port of the VFs' PF: in a test across
    hosts that PF must be the NIC cabled to the other host, and it must have VFs
    (sriov_pfs), so a refusal names both variables.
    """
    wire = str(wire_nic or "").strip()
    if not wire:
        raise IcperfInputError(
            "icperf_wire_nic: names no NIC cabled to the other host, which SR-IOV tests "
            "across two hosts send through"
        )
    for result in checked:
        pf = result["pf"]
        if wire.lower() in (str(pf.get("address", "")).lower(), str(pf.get("netdev", ""))):
            return result
    listed = ", ".join(
        str(r["pf"]["address"]) + (f" ({r['pf']['netdev']})" if r["pf"].get("netdev") else "")
        for r in checked
    )  # fmt: skip
    raise IcperfInputError(
        f"sriov_pfs: the NIC cabled to the other host (icperf_wire_nic: {wire}) is not one of "
        f"the PFs listed ({listed or 'none'}); SR-IOV tests across two hosts put the "
        "containers on VFs of that NIC, so list it in sriov_pfs with enough VFs"
    )


def wire_ports(checked: Sequence[Mapping[str, Any]], wire_nic: object) -> list[str]:
    """The PCI addresses of the VFs the wire NIC's PF has or will have, by index: the VFs
    the containers of a test across hosts take when their lab names none."""
    result = wire_pf(checked, wire_nic)
    return [str(vf["pci"]) for vf in sorted(result["vfs"], key=lambda vf: int(vf["index"]))]


def vfs_for_test(
    containers: Sequence[Mapping[str, Any]],
    checked: Sequence[Mapping[str, Any]],
    sriov_pfs: Sequence[Mapping[str, Any]],
    vf_driver: str = "",
    field: str = "icperf_vswitch_ports",
    pci_only: bool = False,
    wire_nic: object = "",
) -> dict[str, Any]:
    """What a test asks of the PFs: sriov_pfs with each container's MAC on its VF.

    ``containers`` are the test's plan containers (name, mac, vf_pci or vf); ``checked``
    the sriov_vfs module's results for ``sriov_pfs``, in the same order (pf.address and the
    VFs each PF will have: pf, index, pci, netdev). Returns ``pfs``: sriov_pfs entries whose
    ``vfs`` carry the containers' MACs over the lab's settings, with ``vf_driver``; and
    ``containers``: per container its name and VF (pf, index, pci, netdev). Errors name
    ``field``[N]; with ``pci_only`` containers that name no ``vf_pci`` are passed over (the
    first play: VF interfaces have no names before the VFs exist). With ``wire_nic`` (the
    test runs across hosts), a container whose peer is on the other host (``remote``) must
    be on a VF of that NIC: its frames leave the host through that PF's port.
    """
    if len(checked) != len(sriov_pfs):
        raise IcperfInputError(f"sriov_pfs: {len(sriov_pfs)} PFs, {len(checked)} checked")
    wire = wire_pf(checked, wire_nic)["pf"] if wire_nic else None
    vfs = [vf for result in checked for vf in result["vfs"]]
    by_pci = {vf["pci"]: vf for vf in vfs}
    by_netdev = {str(vf["netdev"]): vf for vf in vfs if vf.get("netdev")}
    macs: dict[tuple[str, int], str] = {}
    users: dict[str, str] = {}
    assigned = []
    for position, container in enumerate(containers):
        if pci_only and not container.get("vf_pci"):
            continue
        vf = _find(container, position, by_pci, by_netdev, field)
        if wire is not None and container.get("remote") and vf["pf"] != wire["address"]:
            key = "vf_pci" if container.get("vf_pci") else "vf"
            raise IcperfInputError(
                f"{field}[{position}].{key}: {container['name']}'s VF {container[key]} is on "
                f"PF {vf['pf']}, but its peer is on the other host, reached only through the "
                f"NIC cabled to it (icperf_wire_nic: {wire_nic}, PF {wire['address']}): name "
                "a VF of that PF, or none"
            )
        if vf["pci"] in users:
            raise IcperfInputError(
                f"{field}[{position}]: {container['name']} and "
                f"{users[str(vf['pci'])]} both name VF {vf['pci']}"
            )
        users[vf["pci"]] = str(container["name"])
        macs[(str(vf["pf"]), int(vf["index"]))] = str(container["mac"])
        assigned.append(
            {"name": container["name"], **{k: vf[k] for k in ("pf", "index", "pci", "netdev")}}
        )
    pfs = []
    for entry, result in zip(sriov_pfs, checked, strict=True):
        address = str(result["pf"]["address"])
        settings = {int(vf["index"]): dict(vf) for vf in entry.get("vfs") or []}
        for (pf, index), mac in macs.items():
            if pf == address:
                settings.setdefault(index, {"index": index})["mac"] = mac
        pfs.append(
            {**entry, "vfs": [settings[i] for i in sorted(settings)], "vf_driver": vf_driver}
        )
    return {"pfs": pfs, "containers": assigned}


def vf_settings(vfs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The settings of VFs as the sriov_vfs module reports them, as its ``vfs`` option takes
    them: index, trust, spoofchk, and the MAC unless none was ever set (all zeros)."""
    settings = []
    for vf in vfs:
        entry = {key: vf[key] for key in ("index", "trust", "spoofchk") if key in vf}
        if vf.get("mac") and vf["mac"] != "00:00:00:00:00:00":
            entry["mac"] = vf["mac"]
        settings.append(entry)
    return settings


# Counters read from device registers are 32 bits wide and wrap.
_REGISTER_WRAP = 1 << 32


def counter_deltas(
    before: Mapping[str, Mapping[str, Any]],
    after: Mapping[str, Mapping[str, Any]],
    containers: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Per container, what its VF's counters moved between two icperf.lab.sriov_vf_counters
    readings (``before`` and ``after``, by VF PCI address), with the VF's facts.

    ``containers`` are the test's VFs as vswitch_sriov publishes them (name, pf, index, pci,
    netdev). A VF whose counters came from different sources, or from none, has
    ``counters`` null: the two readings do not count the same frames.
    """
    facts = []
    for container in containers:
        pci = str(container["pci"])
        first, last = before.get(pci) or {}, after.get(pci) or {}
        source = last.get("source", "none")
        counters = None
        if source != "none" and first.get("source") == source:
            wrap = _REGISTER_WRAP if source == "registers" else None
            counters = {}
            for key in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes"):
                moved = int(last[key]) - int(first[key])
                counters[key] = moved % wrap if wrap else moved
        facts.append({
            "container": container["name"], "pf": container["pf"], "index": container["index"],
            "pci": pci, "driver": last.get("driver", ""),
            "netdev": first.get("netdev") or container.get("netdev") or "",
            "counters_source": source, "counters": counters,
        })  # fmt: skip
    return facts
