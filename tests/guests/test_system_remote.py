"""`testset.yml` across two guest hosts joined by a cable (harness --wire): remote tests.

Two guests of their own (one vCPU each), whose lab NIC 0 (emulated igb) are cabled back to
back, provisioned by the first test set as a user runs it. The set mixes a test across the
hosts (labs/remote-1vs1.yml: the sender on guest0, its receiver on guest1, through each
host's switch and the cable) with a local one (labs/1vs1.yml, on guest0 alone). Every
packet sent on one host is counted by the receiver on the other, and by both NICs of the
cable; test.json holds both hosts' facts and the link's line rate; the analysis draws the
remote figures from the run. Then the hosts' SSH dropping mid-test and coming back, OVS-DPDK
with the wire NIC as a DPDK port (vfio-pci, the guests' IOMMU on), and the fault of the
receiving host dying mid-test.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from integration.records import summary

from .conftest import SYSTEM_MARKS, TIMINGS, own_pool, run_playbook, run_testset
from .harness import REPO, Guest, GuestPool

pytestmark = SYSTEM_MARKS

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
# testset.yml's options of this file's runs (conftest.run_testset).
TESTSET: dict[str, Any] = {"lab_dir": LABS, "pkt_sizes": [PKT_SIZE], "rates": [RATE],
                           "bursts": [BURST], "duration": DURATION, "label": "remote"}  # fmt: skip
# How long the SSH of both hosts stays down mid-test (within ansible.cfg's ssh retries).
DROP_SECONDS = 20
CUT_SESSIONS = "/run/icperf-ssh-cut"


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestPool]:
    with own_pool("remote pair", tmp_path_factory.mktemp("remote"), 2, wire=True) as booted:
        yield booted


def lab_inventory(pool: GuestPool, path: Path) -> Path:
    """The pool's inventory as it is now (both hosts with icperf_wire_nic), no core reserved
    (one vCPU)."""
    data = json.loads(pool.write_inventory().read_text())
    for host in data["all"]["children"]["icperf_hosts"]["hosts"].values():
        host.update(icperf_reserved_cores=[])
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


@pytest.fixture(scope="module")
def inventory(pool: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lab_inventory(pool, tmp_path_factory.mktemp("remote-inventory") / "inventory.yml")


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


def test_remote_and_local_tests_over_linux_bridge(
    pool: GuestPool, inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("remote-bridge")
    results = tmp / "results"
    run = run_testset(tmp, inventory, "linux-bridge",
                      ["remote-1vs1.yml", "1vs1.yml", "remote-latency-1vs1.yml"], results,
                      **{**TESTSET, "pkt_sizes": PKT_SIZES})  # fmt: skip
    assert run.rc == 0, run.stdout[-8000:]
    for size in PKT_SIZES:
        found = records(results, size)
        assert set(found) == {"remote", "local", "latency"}, list(results.rglob("test.json"))
        TIMINGS[f"remote linux-bridge latency P{size}"] = json.dumps(
            check_round_trips(found["latency"]))
        moved = check_across(found["remote"], pool.guests)
        TIMINGS[f"remote linux-bridge 1vs1 P{size}"] = json.dumps(moved)
        local = found["local"]
        assert local["status"] == "ok", local["reason"]
        # The local test ran on guest0 alone, its record as on one host.
        assert {app["host"] for app in local["apps"]} == {"guest0"}
        assert "hosts" not in local and local["host"]["kernel"]
    for guest in pool.guests:
        assert host_clean(guest) == "", guest.name

    from icperf_analysis.cli import main

    out = tmp / "report"
    assert main([str(results), "--out", str(out), *ANALYSIS_WINDOW]) == 0
    table = pd.read_csv(out / "summary.csv")
    assert set(table["hosts"]) == {"local", "remote"}
    remote = table[table["hosts"] == "remote"]
    assert (remote["line_rate_bps"] == 1e9).all(), remote
    # Figure 5.4's kind (M against P, L = remote) is drawn with the recorded line rate.
    report = (out / "report.html").read_text()
    assert "1 GbE, recorded in test.json" in report, report[:3000]
    drawn = [path.name for path in out.rglob("max_vs_pkt_*remote*.png")]
    # Figure 5.11's kind: round trips against P, L = remote.
    drawn += [path.name for path in out.rglob("rtt_vs_pkt_*remote*.png")]
    assert {name.split("_vs_")[0] for name in drawn} == {"max", "rtt"}, list(out.rglob("*.png"))
    TIMINGS["remote figures"] = ", ".join(sorted(drawn))


def wait_for_senders(sender: Guest, thread: threading.Thread) -> None:
    """Until the sender's container runs (the test's senders step), or the run has ended."""
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline and thread.is_alive():
        if "icp0" in sender.ssh("lxc-ls -1 --running", check=False).stdout.split():
            return
        time.sleep(2)


def drop_ssh(guest: Guest, seconds: int) -> None:
    """Every SSH connection to ``guest`` cut, and new ones refused for ``seconds``: units of
    their own, outside the sessions they end; SSH comes back from a timer, whatever became
    of the unit that cut it."""
    # A timer fires within a minute of its time unless told to be accurate.
    guest.ssh(f"systemd-run --collect --on-active={seconds} --timer-property=AccuracySec=1s "
              "--unit=icperf-ssh-back systemctl start ssh.service")  # fmt: skip
    # Anchored: the unit's own command line holds the pattern too. The sessions it ends are
    # kept in CUT_SESSIONS.
    cut = (f"systemctl stop ssh.service; pgrep -f '^sshd: root' > {CUT_SESSIONS}; "
           "pkill -f '^sshd: root'")  # fmt: skip
    guest.ssh(f"systemd-run --collect --unit=icperf-ssh-cut sh -c {shlex.quote(cut)}",
              check=False)  # fmt: skip


def test_ssh_that_drops_and_comes_back_mid_test_loses_nothing(
    pool: GuestPool, inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Both hosts' SSH cut and refused for 20 s while the senders run: the test's steps go on
    as jobs on the hosts, the controller reconnects, and the test ends complete: every packet
    counted, both hosts' logs fetched."""
    tmp = tmp_path_factory.mktemp("remote-ssh-drop")
    results = tmp / "results"
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["run"] = run_testset(tmp, inventory, "linux-bridge", ["remote-1vs1.yml"],
                                     results, **{**TESTSET, "duration": 30})  # fmt: skip

    thread = threading.Thread(target=run)
    thread.start()
    wait_for_senders(pool.guests[0], thread)
    assert thread.is_alive(), "the run ended before its senders started"
    for guest in pool.guests:
        drop_ssh(guest, DROP_SECONDS)
    dropped_at = time.monotonic()
    # The drop is real: a new connection is refused meanwhile.
    for guest in pool.guests:
        while guest.ssh("true", check=False, timeout=30).returncode != 255:
            assert time.monotonic() - dropped_at < DROP_SECONDS / 2, f"{guest.name} still answers"
            time.sleep(1)
    thread.join(timeout=1800)
    assert not thread.is_alive()
    TIMINGS["remote: from SSH dropped (20 s) to the run's end (s)"] = round(
        time.monotonic() - dropped_at, 1)
    played = outcome["run"]
    assert played.rc == 0, played.failure_messages() or played.stdout[-8000:]
    # The controller's connections were live when they were cut (Ansible keeps each host's
    # open between tasks).
    cut = {g.name: g.ssh(f"cat {CUT_SESSIONS}").stdout.split() for g in pool.guests}
    assert all(cut.values()), cut
    record = records(results)["remote"]
    TIMINGS["remote linux-bridge 1vs1, SSH dropped mid-test"] = json.dumps(
        {**check_across(record, pool.guests), "sshd sessions cut": cut})
    for guest in pool.guests:
        assert host_clean(guest) == "", guest.name


@pytest.fixture(scope="module")
def iommu(pool: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> list[Guest]:
    """vfio-pci needs each guest's IOMMU; the kernel_cmdline role turns it on when off."""
    if not all(g.ssh("ls /sys/class/iommu").stdout.strip() for g in pool.guests):
        tmp = tmp_path_factory.mktemp("remote-iommu")
        on = run_playbook(tmp, pool.inventory, "tests/guests/playbooks/kernel_cmdline.yml",
                          {"kernel_cmdline_iommu": "intel"})  # fmt: skip
        TIMINGS["remote: IOMMU on, with a reboot (s)"] = on.seconds
        assert on.rc == 0, on.failure_messages() or on.stdout[-3000:]
    assert all(g.ssh("ls /sys/class/iommu").stdout.strip() for g in pool.guests)
    return pool.guests


def test_remote_over_ovs_dpdk_with_the_wire_nic_as_a_dpdk_port(
    iommu: list[Guest], inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("remote-ovs")
    results = tmp / "results"
    run = run_testset(tmp, inventory, "ovs", ["remote-1vs1.yml"], results, **TESTSET)
    assert run.rc == 0, run.stdout[-8000:]
    record = records(results)["remote"]
    moved = check_across(record, iommu)
    for name in ("guest0", "guest1"):
        wire = record["hosts"][name]["wire"]
        # OVS drove the NIC: its counters came from OVS's dpdk port.
        assert (wire["driver"], wire["source"]) == ("vfio-pci", "ovs"), wire
    TIMINGS["remote ovs 1vs1"] = json.dumps(moved)
    for guest in iommu:
        assert host_clean(guest) == "", guest.name
        # The NIC is back on its own driver.
        assert guest.ssh(f"basename $(readlink /sys/bus/pci/devices/{WIRE}/driver)"
                         ).stdout.strip() == "igb"  # fmt: skip


def test_the_receiving_host_dies_mid_test(
    pool: GuestPool, inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """guest1 (the receivers' host) is killed while the first of two remote tests sends: that
    test is recorded failed naming guest1, guest0 is restored, the second test is not run and
    the run says so, naming the host. With guest1 back (a fresh disk: provisioned again by
    the run), the same command completes what is missing: both tests."""
    sender, receiver = pool.guests
    tmp = tmp_path_factory.mktemp("remote-dies")
    results = tmp / "results"
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["run"] = run_testset(tmp, inventory, "linux-bridge", ["remote-1vs1.yml"],
                                     results, **{**TESTSET, "duration": 30,
                                                 "pkt_sizes": [64, 128]})  # fmt: skip

    thread = threading.Thread(target=run)
    thread.start()
    wait_for_senders(sender, thread)
    assert thread.is_alive(), "the run ended before its senders started"
    time.sleep(5)
    killed_at = time.monotonic()
    receiver.stop()
    thread.join(timeout=1800)
    assert not thread.is_alive()
    TIMINGS["remote: from guest1 killed to the run's end (s)"] = round(
        time.monotonic() - killed_at, 1)
    played = outcome["run"]
    assert played.rc != 0
    tests = {json.loads(p.read_text())["params"]["pkt_size"]: json.loads(p.read_text())
             for p in results.rglob("test.json")}  # fmt: skip
    assert list(tests) == [64], (list(results.rglob("test.json")), played.failure_messages())
    assert tests[64]["status"] == "failed"
    assert "guest1: unreachable during the test" in tests[64]["reason"], tests[64]["reason"]
    messages = played.failure_messages()
    assert any("tests not run, their hosts (guest1) unreachable" in m and "/128/" in m
               for m in messages), messages  # fmt: skip
    assert host_clean(sender) == ""

    TIMINGS["remote: guest1 booted again (s)"] = round(receiver.reset(), 1)
    back = lab_inventory(pool, tmp / "inventory-back.yml")
    rerun = run_testset(tmp / "rerun", back, "linux-bridge", ["remote-1vs1.yml"], results,
                        **{**TESTSET, "duration": 30, "pkt_sizes": [64, 128]})  # fmt: skip
    assert rerun.rc == 0, rerun.failure_messages() or rerun.stdout[-8000:]
    for size in (64, 128):
        TIMINGS[f"remote: after guest1 came back, P{size}"] = json.dumps(
            check_across(records(results, size)["remote"], pool.guests))
    for guest in pool.guests:
        assert host_clean(guest) == "", guest.name
