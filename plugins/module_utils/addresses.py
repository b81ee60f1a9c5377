"""IPv4, MAC and PCI address parsing and derivation for lab containers."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_MAC_PREFIX_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){2}$")
_PCI_RE = re.compile(r"^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$")


def parse_mac(value: object, field: str) -> str:
    """Return a unicast MAC address in lower case, or raise naming ``field``."""
    if not isinstance(value, str) or not _MAC_RE.match(value.strip().lower()):
        raise IcperfInputError(f"{field}: {value!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    mac = value.strip().lower()
    if int(mac[:2], 16) & 1:
        raise IcperfInputError(f"{field}: {mac} is a multicast address")
    return mac


def parse_ip(value: object, field: str) -> ipaddress.IPv4Address:
    """Return an IPv4 address, or raise naming ``field``."""
    try:
        return ipaddress.IPv4Address(str(value).strip() if isinstance(value, str) else value)
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise IcperfInputError(f"{field}: {value!r} is not an IPv4 address") from None


def parse_prefix(value: object, field: str) -> int:
    """Return a prefix length from 24, "24" or "255.255.255.0", or raise naming ``field``."""
    if isinstance(value, bool):
        raise IcperfInputError(f"{field}: {value!r} is not a netmask")
    if isinstance(value, str) and "." in value:
        try:
            return ipaddress.IPv4Network(f"0.0.0.0/{value.strip()}").prefixlen
        except ValueError:
            raise IcperfInputError(f"{field}: {value!r} is not a netmask") from None
    try:
        prefix = int(value) if isinstance(value, int | str) else -1
    except ValueError:
        prefix = -1
    if not 1 <= prefix <= 30:
        raise IcperfInputError(
            f"{field}: {value!r} is not a prefix length between 1 and 30 (or a dotted netmask)"
        )
    return prefix


def parse_subnet(value: object, field: str) -> ipaddress.IPv4Network:
    """Return an IPv4 network such as 10.0.3.0/24, or raise naming ``field``."""
    if not isinstance(value, str):
        raise IcperfInputError(f"{field}: {value!r} is not a subnet (e.g. 10.0.3.0/24)")
    try:
        network = ipaddress.IPv4Network(value.strip(), strict=True)
    except ValueError as error:
        raise IcperfInputError(f"{field}: {value!r} is not a subnet ({error})") from None
    if network.prefixlen > 30:
        raise IcperfInputError(f"{field}: {value!r} is too small for container pairs")
    return network


def parse_pci(value: object, field: str) -> str:
    """Return a PCI address in full form (0000:04:02.0); "04:02.0" gets domain 0000."""
    text = value.strip().lower() if isinstance(value, str) else ""
    match = _PCI_RE.match(text)
    if not match:
        raise IcperfInputError(f"{field}: {value!r} is not a PCI address (0000:04:02.0)")
    domain, bus, device, function = match.groups()
    return f"{domain or '0000'}:{bus}:{device}.{function}"


def mac_address(index: int, prefix: str = "02:00:00") -> str:
    """Return the MAC address ``prefix`` followed by ``index`` as three octets.

    mac_address(16) is 02:00:00:00:00:10, the thesis' address for container 10.0.3.10.
    """
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1 << 24:
        raise IcperfInputError(f"index: {index!r} is not an integer between 0 and 16777215")
    text = prefix.strip().lower() if isinstance(prefix, str) else ""
    if not _MAC_PREFIX_RE.match(text):
        raise IcperfInputError(f"mac_prefix: {prefix!r} is not three octets (e.g. 02:00:00)")
    if int(text[:2], 16) & 1:
        raise IcperfInputError(f"mac_prefix: {prefix!r} is a multicast prefix")
    octets = [(index >> shift) & 0xFF for shift in (16, 8, 0)]
    return text + "".join(f":{octet:02x}" for octet in octets)


def ip_address(subnet: str, index: int) -> str:
    """Return host number ``index`` of ``subnet`` (ip_address('10.0.3.0/24', 10) = 10.0.3.10)."""
    network = parse_subnet(subnet, "subnet")
    if isinstance(index, bool) or not isinstance(index, int):
        raise IcperfInputError(f"index: {index!r} is not an integer")
    if not 1 <= index < network.num_addresses - 1:
        raise IcperfInputError(
            f"index: host {index} is outside {network} (1..{network.num_addresses - 2})"
        )
    return str(network.network_address + index)
