"""What the system tests across two guest hosts share: the test sets' options, the checks
of a test across the cable, the state a test may leave on a host, and the faults they cause
(an SSH drop)."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from integration.records import summary

from .harness import REPO, Guest, GuestPool

LABS = REPO / "labs"
RATE = 2000
PKT_SIZE = 64
BURST = 32
DURATION = 6
ANALYSIS_WINDOW = ["--warmup", "1", "--cooldown", "1"]
WIRE = "0000:01:00.0"
# Frames of the hosts' and containers' kernels on the cable during a test, at most.
KERNEL_FRAMES = 20
# Two sizes: figure 5.4's kind (M against P) draws a curve and the line rate's.
PKT_SIZES = [64, 1500]
# testset.yml's options of the remote runs (conftest.run_testset).
TESTSET: dict[str, Any] = {"lab_dir": LABS, "pkt_sizes": [PKT_SIZE], "rates": [RATE],
                           "bursts": [BURST], "duration": DURATION, "label": "remote"}  # fmt: skip
# How long the SSH of both hosts stays down mid-test (within ansible.cfg's ssh retries).
DROP_SECONDS = 20
CUT_SESSIONS = "/run/icperf-ssh-cut"
SSH_DOWN = "/run/icperf-ssh-down"
SSH_UP = "/run/icperf-ssh-up"


def lab_inventory(pool: GuestPool, path: Path) -> Path:
    """The pool's inventory as it is now (both hosts with icperf_wire_nic), no core reserved
    (one vCPU)."""
    data = json.loads(pool.write_inventory().read_text())
    for host in data["all"]["children"]["icperf_hosts"]["hosts"].values():
        host.update(icperf_reserved_cores=[])
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def records(results: Path, pkt_size: int = PKT_SIZE) -> dict[str, dict[str, Any]]:
    """test.json of every throughput test of ``pkt_size`` under ``results``, by L (local or
    remote); the latency test's, if any, under "latency"."""
    found = {}
    for path in results.rglob("test.json"):
        record = json.loads(path.read_text())
        params = record["params"]
        if params["pkt_size"] == pkt_size:
            key = "latency" if params["dimension"] == "latency" else params["hosts"]
            assert key not in found, (key, path)
            found[key] = {**record, "folder": path.parent}
    return found


def check_round_trips(record: dict[str, Any]) -> dict[str, Any]:
    """The client ran on guest0 and its server on guest1; the server received every request
    that came back as an echo, each crossing the cable both ways."""
    assert record["status"] == "ok", record["reason"]
    assert record["params"]["hosts"] == "remote"
    apps = {app["app"]: app for app in record["apps"]}
    assert (apps["client"]["host"], apps["server"]["host"]) == ("guest0", "guest1")
    client = summary(record["folder"] / apps["client"]["log"])
    server = summary(record["folder"] / apps["server"]["log"])
    assert 0 < client["echoed"] <= client["sent"] and server["rx"] >= client["echoed"], client
    assert client["rtt_min_ns"] > 0
    wire = record["hosts"]["guest1"]["wire"]
    assert wire["rx_packets"] >= client["sent"] and wire["tx_packets"] >= client["echoed"], wire
    return {key: client[key] for key in ("sent", "echoed", "rtt_min_ns", "rtt_mean_ns")
            if key in client}  # fmt: skip


def check_across(record: dict[str, Any], guests: list[Guest]) -> dict[str, Any]:
    """The sender ran on guest0 and its receiver on guest1; every packet sent was received,
    and the cable's two NICs counted at least those frames, one's transmit equal to the
    other's receive."""
    assert record["status"] == "ok", record["reason"]
    apps = {app["container"]: app for app in record["apps"]}
    assert {(a["app"], a["host"], a["peer"]) for a in apps.values()} == {
        ("send", "guest0", "icp1"), ("recv", "guest1", "icp0"),
    }  # fmt: skip
    sent = summary(record["folder"] / apps["icp0"]["log"])
    got = summary(record["folder"] / apps["icp1"]["log"])
    assert got["lost"] == 0 and got["reordered"] == 0, got
    assert got["rx"] == sent["sent"] > 0, (sent, got)
    hosts = record["hosts"]
    assert set(hosts) == {"guest0", "guest1"}
    for guest in guests:
        facts = hosts[guest.name]["facts"]
        assert facts["kernel"] == guest.ssh("uname -r").stdout.strip(), facts
    out, into = hosts["guest0"]["wire"], hosts["guest1"]["wire"]
    assert out["pci"] == into["pci"] == WIRE
    # Both NICs carried every frame of the applets, besides a few of the kernels' own (ARP,
    # the priming ping, IPv6 neighbour discovery). The two hosts read their NIC at nearly
    # the same moment, not the same one: such a frame may cross between the two readings.
    assert out["tx_packets"] >= sent["sent"] and into["rx_packets"] >= got["rx"], (out, into)
    assert abs(out["tx_packets"] - into["rx_packets"]) <= KERNEL_FRAMES, (out, into)
    assert abs(into["tx_packets"] - out["rx_packets"]) <= KERNEL_FRAMES, (out, into)
    assert out["tx_packets"] - sent["sent"] <= KERNEL_FRAMES, (out, sent)
    # QEMU's igb reports a 1000 Mb/s link.
    assert record["line_rate_bps"] == 1_000_000_000
    return {"sent": sent["sent"], "received": got["rx"], "guest0 wire tx": out["tx_packets"],
            "guest1 wire rx": into["rx_packets"]}  # fmt: skip


def host_clean(guest: Guest) -> str:
    """What a test may leave on a host: containers, bridges (but lxcbr0, which the lxc
    package's lxc-net service keeps), namespaces, OVS bridges."""
    return guest.ssh(
        "lxc-ls -1; ip -o link show type bridge | grep -v ': lxcbr0:'; ip netns list; "
        "ovs-vsctl list-br 2>/dev/null || true"
    ).stdout.strip()


def wait_for_senders(sender: Guest, running: Callable[[], bool]) -> None:
    """Until the sender's container runs (the test's senders step), or the run has ended
    (``running()`` false)."""
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline and running():
        if "icp0" in sender.ssh("lxc-ls -1 --running", check=False).stdout.split():
            return
        time.sleep(2)


def drop_ssh(guest: Guest, seconds: int) -> None:
    """Every SSH connection to ``guest`` cut, and new ones refused for ``seconds``: one unit of
    its own, outside the sessions it ends, that stops sshd, ends the sessions, waits and starts
    sshd again, in that order (a cut slower than a separate timer would leave sshd stopped).
    The guest keeps when SSH went down and came back (SSH_DOWN, SSH_UP) and the sessions it
    ended (CUT_SESSIONS). A timer starts sshd anyway a minute later, whatever became of the
    unit."""
    guest.ssh(f"rm -f {SSH_DOWN} {SSH_UP} {CUT_SESSIONS}")
    guest.ssh(f"systemd-run --collect --on-active={seconds + 60} --timer-property=AccuracySec=1s "
              "--unit=icperf-ssh-backstop systemctl start ssh.service")  # fmt: skip
    # Anchored: the unit's own command line holds the pattern too.
    cut = (f"systemctl stop ssh.service; date +%s.%N > {SSH_DOWN}; "
           f"ss -Hltn 'sport = :22' >> {SSH_DOWN}; "
           f"pgrep -f '^sshd: root' > {CUT_SESSIONS}; pkill -f '^sshd: root'; "
           f"sleep {seconds}; systemctl start ssh.service; date +%s.%N > {SSH_UP}")  # fmt: skip
    guest.ssh(f"systemd-run --collect --unit=icperf-ssh-cut sh -c {shlex.quote(cut)}",
              check=False)  # fmt: skip


def ssh_down_seconds(guest: Guest) -> float:
    """How long ``guest`` refused SSH in its last drop, from its own clock; fails if anything
    still listened on port 22 once sshd had stopped."""
    down, *listening = guest.ssh(f"cat {SSH_DOWN}").stdout.splitlines()
    assert not listening, f"{guest.name}: port 22 still open without sshd: {listening}"
    return float(guest.ssh(f"cat {SSH_UP}").stdout) - float(down)
