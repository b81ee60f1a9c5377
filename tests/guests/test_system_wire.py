"""Two guest hosts joined by a cable: lab NIC 0 of each, back to back (harness --wire).

The pair is booted for this module alone (the session's one-guest pool is not used). The
tests show that Ansible reaches both hosts through the inventory the pool writes, and that
frames cross the cable: addresses on the two lab NICs, every ping answered, and what one NIC
sent is what the other received, counted by the NICs themselves.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import SYSTEM_MARKS, TIMINGS, own_pool, run_playbook
from .harness import Guest, GuestPool

pytestmark = SYSTEM_MARKS

ADDRESSES = ("10.99.0.1", "10.99.0.2")
PINGS = 20
# Bytes are reported, not compared: the NIC pads short frames (ARP) to 60 bytes on the wire,
# so the receiver counts more bytes than the sender handed to its NIC.
COUNTERS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes")


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestPool]:
    with own_pool("wired pair", tmp_path_factory.mktemp("wired"), 2, wire=True) as pool:
        yield pool


def assert_carrier(guests: list[Guest], netdevs: list[str]) -> None:
    """Each guest's NIC has carrier within 30 s (the cable's other end may still be coming up)."""
    for guest, netdev in zip(guests, netdevs, strict=True):
        carrier = guest.ssh(
            f"for i in $(seq 60); do [ $(cat /sys/class/net/{netdev}/carrier) = 1 ] && "
            "echo up && exit 0; sleep 0.5; done; echo down"
        )
        assert carrier.stdout.strip() == "up", f"{guest.name}: {netdev} has no carrier"


def lab_netdev(guest: Guest) -> str:
    """The kernel's name for lab NIC 0 (the igb on the cable)."""
    address = guest.lab_nic_address(0)
    name = guest.ssh(f"ls /sys/bus/pci/devices/{address}/net/").stdout.split()
    assert len(name) == 1, name
    return name[0]


def counters(guest: Guest, netdev: str) -> dict[str, int]:
    text = guest.ssh(
        " ".join(f"echo {c} $(cat /sys/class/net/{netdev}/statistics/{c});" for c in COUNTERS)
    ).stdout
    return {key: int(value) for key, value in (line.split() for line in text.splitlines())}


def test_the_inventory_names_both_hosts_and_their_wire_nic(
    wired: GuestPool, tmp_path: Path
) -> None:
    run = run_playbook(tmp_path, wired.inventory, "tests/guests/playbooks/facts.yml", {})

    assert run.rc == 0, run.stdout[-3000:]
    facts = [r["ansible_facts"] for r in run.results("Read the facts")]
    assert [f["ansible_distribution"] for f in facts] == ["Debian", "Debian"]
    text = wired.inventory.read_text()
    for guest in wired.guests:
        assert f'"{guest.name}"' in text
        assert f'"ansible_port": {guest.ssh_port}' in text
    assert text.count('"icperf_wire_nic": "0000:01:00.0"') == 2


def test_frames_cross_the_wire_and_both_nics_count_them(wired: GuestPool) -> None:
    guests = wired.guests
    netdevs = [lab_netdev(guest) for guest in guests]
    for index, (guest, netdev) in enumerate(zip(guests, netdevs, strict=True)):
        driver = guest.ssh(f"basename $(readlink /sys/class/net/{netdev}/device/driver)")
        assert driver.stdout.strip() == "igb"
        assert guest.read(f"/sys/class/net/{netdev}/address").strip() == guest.lab_nic_mac(0)
        # IPv6 would send router solicitations and DAD probes at its own times; without
        # it the only frames on the cable are the ping's and ARP's.
        guest.ssh(
            f"sysctl -qw net.ipv6.conf.{netdev}.disable_ipv6=1 && "
            f"ip addr flush dev {netdev} && "
            f"ip addr add {ADDRESSES[index]}/24 dev {netdev} && ip link set {netdev} up"
        )
    assert_carrier(guests, netdevs)
    before = [counters(g, n) for g, n in zip(guests, netdevs, strict=True)]

    started = time.monotonic()
    ping = guests[0].ssh(f"ping -c {PINGS} -i 0.2 -W 2 {ADDRESSES[1]}", check=False)
    TIMINGS["wired pair: ping (s)"] = round(time.monotonic() - started, 1)

    assert ping.returncode == 0, ping.stdout + ping.stderr
    match = re.search(r"(\d+) packets transmitted, (\d+) received", ping.stdout)
    assert match, ping.stdout
    assert (int(match.group(1)), int(match.group(2))) == (PINGS, PINGS)
    # The peer learnt guest0's MAC from the frames that came over the cable.
    neighbour = guests[1].ssh(f"ip neigh show {ADDRESSES[0]} dev {netdevs[1]}").stdout
    assert guests[0].lab_nic_mac(0) in neighbour.lower()

    time.sleep(2)
    after = [counters(g, n) for g, n in zip(guests, netdevs, strict=True)]
    delta = [{c: a[c] - b[c] for c in COUNTERS} for a, b in zip(after, before, strict=True)]
    TIMINGS["wired pair: counters (guest0, guest1)"] = delta
    for sender, receiver in ((0, 1), (1, 0)):
        # Requests one way, replies the other, plus ARP: at least PINGS frames each way.
        assert delta[sender]["tx_packets"] >= PINGS, delta
        assert delta[sender]["tx_packets"] == delta[receiver]["rx_packets"], delta


BRIDGE_PLAYBOOK = "tests/guests/playbooks/bridge_uplink.yml"
BRIDGE = "icpbr0"
STATE_FILE = "/var/lib/icperf/linux_bridge.sysctl.json"
NS_ADDRESSES = ("10.98.0.1", "10.98.0.2")


def link_state(guest: Guest, netdev: str) -> str:
    """What the bridge role may change: the NIC's master and up flag, the bridge, its state."""
    return guest.ssh(
        f"ip -o link show dev {netdev} | grep -o 'master [^ ]*\\|state [A-Z]*\\|<[^>]*>'; "
        f"ip link show dev {BRIDGE} 2>&1 | head -n 1; cat {STATE_FILE} 2>&1; "
        "sysctl -n net.bridge.bridge-nf-call-iptables 2>&1; true"
    ).stdout


def test_each_bridge_enslaves_its_wire_nic_and_frames_cross_between_them(
    wired: GuestPool, tmp_path: Path
) -> None:
    """vswitch_linux_bridge with its uplink: a namespace on each host behind its bridge,
    pings across the two bridges and the cable; stop puts each NIC back as it was."""
    guests = wired.guests
    netdevs = [lab_netdev(guest) for guest in guests]
    # The ping test left an address (and its route) on each NIC: refused before any change.
    before = [link_state(g, n) for g, n in zip(guests, netdevs, strict=True)]
    refused = run_playbook(tmp_path, wired.inventory, BRIDGE_PLAYBOOK, {})
    assert refused.rc != 0
    assert any(
        f"vswitch_linux_bridge_uplink: 0000:01:00.0 ({netdevs[0]}) carries IPv4 routes" in text
        for text in refused.failure_messages()
    ), refused.failure_messages()
    absent = run_playbook(tmp_path, wired.inventory, BRIDGE_PLAYBOOK,
                          {"bridge_uplink": "0000:07:00.0"})  # fmt: skip
    assert any(
        "vswitch_linux_bridge_uplink: 0000:07:00.0 is not a network device of this host" in text
        for text in absent.failure_messages()
    ), absent.failure_messages()
    assert [link_state(g, n) for g, n in zip(guests, netdevs, strict=True)] == before

    # guest0's NIC stays up, guest1's goes down: stop must put back each one's own state.
    # IPv6 off for the links made from now on (the bridge, the veths; new namespaces get
    # it off below): their router solicitations and reports would cross the cable at
    # their own times, between the two hosts' counter reads.
    for guest in guests:
        guest.ssh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1")
    guests[0].ssh(f"ip addr flush dev {netdevs[0]}")
    guests[1].ssh(f"ip addr flush dev {netdevs[1]} && ip link set {netdevs[1]} down")
    clean = [link_state(g, n) for g, n in zip(guests, netdevs, strict=True)]

    started = run_playbook(tmp_path, wired.inventory, BRIDGE_PLAYBOOK, {})
    TIMINGS["wired pair: bridge start on both (s)"] = started.seconds
    assert started.rc == 0, started.stdout[-3000:]
    for index, (guest, netdev) in enumerate(zip(guests, netdevs, strict=True)):
        assert f"master {BRIDGE}" in guest.ssh(f"ip -o link show dev {netdev}").stdout
        guest.ssh(
            "ip netns add icpns && "
            "ip netns exec icpns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 && "
            "ip netns exec icpns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && "
            "ip link add icpv-t0 type veth peer name eth0 netns icpns && "
            f"ip link set icpv-t0 master {BRIDGE} up && "
            f"ip -n icpns addr add {NS_ADDRESSES[index]}/24 dev eth0 && "
            "ip -n icpns link set eth0 up && ip -n icpns link set lo up"
        )
    assert_carrier(guests, netdevs)
    counted = [counters(g, n) for g, n in zip(guests, netdevs, strict=True)]
    ping = guests[0].ssh(
        f"ip netns exec icpns ping -c {PINGS} -i 0.2 -W 2 {NS_ADDRESSES[1]}", check=False
    )
    time.sleep(2)
    after = [counters(g, n) for g, n in zip(guests, netdevs, strict=True)]
    for guest in guests:
        guest.ssh("ip netns del icpns; ip link del icpv-t0 2>/dev/null; true")
    stopped = run_playbook(tmp_path, wired.inventory, BRIDGE_PLAYBOOK, {"bridge_entry": "stop"})

    assert stopped.rc == 0, stopped.stdout[-3000:]
    assert [link_state(g, n) for g, n in zip(guests, netdevs, strict=True)] == clean
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert f"{PINGS} packets transmitted, {PINGS} received" in ping.stdout
    delta = [{c: a[c] - b[c] for c in COUNTERS} for a, b in zip(after, counted, strict=True)]
    TIMINGS["wired pair: counters through the bridges (guest0, guest1)"] = delta
    for sender, receiver in ((0, 1), (1, 0)):
        assert delta[sender]["tx_packets"] >= PINGS, delta
        assert delta[sender]["tx_packets"] == delta[receiver]["rx_packets"], delta
