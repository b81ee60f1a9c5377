from __future__ import annotations

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.addresses import (
    ip_address,
    mac_address,
    parse_mac,
    parse_pci,
    parse_prefix,
)
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError


def test_mac_address_from_index() -> None:
    assert mac_address(16) == "02:00:00:00:00:10"
    assert mac_address(0x0A030B, "06:AB:cd") == "06:ab:cd:0a:03:0b"
    assert mac_address(0xFFFFFF) == "02:00:00:ff:ff:ff"


@pytest.mark.parametrize(
    ("index", "prefix", "message"),
    [
        (-1, "02:00:00", "index: -1 is not an integer between 0 and 16777215"),
        (1 << 24, "02:00:00", "index: 16777216 is not an integer"),
        (True, "02:00:00", "index: True is not an integer"),
        (1, "02:00", "mac_prefix: '02:00' is not three octets"),
        (1, "01:00:5e", "mac_prefix: '01:00:5e' is a multicast prefix"),
    ],
)
def test_mac_address_errors(index: int, prefix: str, message: str) -> None:
    with pytest.raises(IcperfInputError) as caught:
        mac_address(index, prefix)
    assert str(caught.value).startswith(message)


def test_ip_address() -> None:
    assert ip_address("10.0.3.0/24", 10) == "10.0.3.10"
    assert ip_address("192.168.0.0/16", 300) == "192.168.1.44"


@pytest.mark.parametrize(
    ("subnet", "index", "message"),
    [
        ("10.0.3.0/24", 0, "index: host 0 is outside 10.0.3.0/24 (1..254)"),
        ("10.0.3.0/24", 255, "index: host 255 is outside"),
        ("10.0.3.1/24", 1, "subnet: '10.0.3.1/24' is not a subnet"),
        ("10.0.3.0/31", 1, "subnet: '10.0.3.0/31' is too small"),
        ("nonsense", 1, "subnet: 'nonsense' is not a subnet"),
    ],
)
def test_ip_address_errors(subnet: str, index: int, message: str) -> None:
    with pytest.raises(IcperfInputError) as caught:
        ip_address(subnet, index)
    assert str(caught.value).startswith(message)


def test_parse_mac_lowercases_and_rejects_multicast() -> None:
    assert parse_mac(" 02:AA:00:00:00:10 ", "mac") == "02:aa:00:00:00:10"
    with pytest.raises(IcperfInputError, match=r"^x.mac: 03:00:00:00:00:10 is a multicast"):
        parse_mac("03:00:00:00:00:10", "x.mac")
    # The thesis' Listing 4.1 has this five-octet typo; it must not pass.
    with pytest.raises(IcperfInputError, match=r"^x.mac: '02:00:00:00:10' is not a MAC"):
        parse_mac("02:00:00:00:10", "x.mac")


def test_parse_prefix_forms() -> None:
    assert parse_prefix(24, "n") == 24
    assert parse_prefix("16", "n") == 16
    assert parse_prefix("255.255.255.0", "n") == 24
    for bad in (0, 31, "255.0.255.0", "x", True):
        with pytest.raises(IcperfInputError, match=r"^n: "):
            parse_prefix(bad, "n")


def test_parse_pci_adds_domain() -> None:
    assert parse_pci("04:02.1", "p") == "0000:04:02.1"
    assert parse_pci("0000:AF:1f.7", "p") == "0000:af:1f.7"
    for bad in ("04:02", "04:02.8", "zz:02.0", 4):
        with pytest.raises(IcperfInputError, match=r"^p: "):
            parse_pci(bad, "p")
