"""The DPDK switch roles on this host: basicfwd (testpmd) and OVS-DPDK, with real traffic.

Small playbooks in dpdk_playbooks/ drive the roles (dpdk, hugepages, vswitch_basicfwd,
vswitch_ovs) through ansible-playbook; testpmd processes on virtio_user ports stand in for
the containers' applets (txonly senders, rxonly or macswap receivers). The tests check the
packets counted at every hop, OVS's learned addresses, that provisioning twice changes
nothing, that a switch killed with SIGKILL is cleaned up by stop, and that stop after an
OVS start killed at any step leaves OVS as it was. Everything created is named icpd:
sockets under /run/icperf-test-icpd, bridge icpd-br0, DPDK prefixes icpd-*.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = Path(__file__).resolve().parent / "dpdk_playbooks"
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
SOCK_DIR = Path("/run/icperf-test-icpd")
STATE_DIR = SOCK_DIR / "state"
# Held while the module runs. OVS and the hugepage pool are one per host: whatever else
# drives the DPDK switches (another run of these tests, a test set) takes the same lock
# and waits instead of stopping daemons and changing settings under the other.
LOCK_FILE = Path("/run/lock/icperf-test-icpd.lock")
LOCK_TIMEOUT = 900
HUGE_MOUNT = Path("/mnt/icpd-huge")
TESTPMD = "/usr/bin/dpdk-testpmd"
OVS_RUNDIR = Path("/var/run/openvswitch")
QUEUE_SIZE = 16384  # virtio_user ring entries, as the applets use them
ROLE_VARS: dict[str, Any] = {
    "icpd_socket_dir": str(SOCK_DIR),
    # 2 pairs through OVS take 768 pages; the rest is headroom for other DPDK users.
    "hugepages_count": 1536,
    "hugepages_mount": str(HUGE_MOUNT),
    "hugepages_state_file": str(STATE_DIR / "hugepages.json"),
    "vswitch_basicfwd_file_prefix": "icpd-basicfwd",
    "vswitch_basicfwd_pid_file": str(STATE_DIR / "basicfwd.pid"),
    "vswitch_basicfwd_state_file": str(STATE_DIR / "basicfwd.json"),
    "vswitch_basicfwd_log_file": str(STATE_DIR / "basicfwd.log"),
    "vswitch_basicfwd_stats_period": 1,
    "vswitch_ovs_bridge": "icpd-br0",
    "vswitch_ovs_state_file": str(STATE_DIR / "ovs.json"),
    "vswitch_ovs_file_prefix": "icpd-ovs",
}


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: reserves hugepages, starts testpmd and Open vSwitch"
    for path in (TESTPMD, "/usr/sbin/ovs-vswitchd", str(ANSIBLE_PLAYBOOK)):
        if not Path(path).exists():
            return f"needs {path} (run scripts/setup.sh)"
    return None


SKIP_REASON = _skip_reason()
pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


@dataclass
class Play:
    rc: int
    output: str

    @property
    def changed(self) -> int:
        found = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", self.output)
        assert found, f"no play recap in:\n{self.output[-3000:]}"
        return int(found.group(1))


@dataclass
class PortStats:
    rx: int
    rx_dropped: int
    tx: int
    tx_dropped: int


def run(argv: list[str], check: bool = True) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60).stdout


def forward_stats(log: str) -> dict[int, PortStats]:
    """testpmd's final per-port statistics (the last block printed for each port)."""
    pattern = (
        r"Forward statistics for port (\d+)\s+-+\s+RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)"
        r"\s+RX-total:\s*\d+\s+TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)"
    )
    return {
        int(m[0]): PortStats(int(m[1]), int(m[2]), int(m[3]), int(m[4]))
        for m in re.findall(pattern, log)
    }


class Endpoint:
    """A testpmd on one virtio_user port: the stand-in for a container's DPDK applet.

    Interactive (commands on stdin): "stop" ends the forwarding but keeps the port
    connected, so that nothing is left in flight when the counters are compared. Memory
    and IOVA settings are the ones the applets use (docs/dpdk.md).
    """

    def __init__(self, name: str, port: dict[str, Any], mode: str, server: bool) -> None:
        self.name = name
        self.log = STATE_DIR / f"icpd-{name}.log"
        vdev = f"net_virtio_user0,path={port['sock']},queue_size={QUEUE_SIZE},mac={port['mac']}"
        cpu = port["cpus"][0]
        argv = [
            # Line-buffered output: the log shows each answer as soon as it is printed.
            "stdbuf", "-oL", TESTPMD, f"--lcores=0@{cpu},1@{cpu}", "--main-lcore=0", "--no-pci",
            "--in-memory", "--single-file-segments", "--iova-mode=va", "-m", "256",
            f"--file-prefix=icpd-{name}",
            f"--vdev={vdev}{',server=1' if server else ''}",
            "--", "-i", f"--forward-mode={mode}", "--auto-start", f"--rxd={QUEUE_SIZE}",
            f"--txd={QUEUE_SIZE}", "--total-num-mbufs=40000", f"--eth-peer=0,{port['peer_mac']}",
        ]  # fmt: skip
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, text=True
            )
        self._wait_for("packet forwarding - ports=1")

    def _wait_for(self, text: str, count: int = 1) -> None:
        deadline = time.monotonic() + 30
        while self.log.read_text().count(text) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                shutil.rmtree(f"/var/run/dpdk/icpd-{self.name}", ignore_errors=True)
                huge = re.findall(r"HugePages_\w+:\s+\d+", Path("/proc/meminfo").read_text())
                pytest.fail(
                    f"testpmd {self.name}: no {text!r} ({', '.join(huge)}):\n"
                    f"{self.log.read_text()[:3000]}"
                )
            time.sleep(0.1)

    def _command(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def pause(self) -> None:
        """Stop forwarding (testpmd prints the port's statistics); the port stays connected."""
        self._command("stop")
        self._wait_for("Forward statistics for port 0")

    def finish(self) -> PortStats:
        """Quit; returns the statistics printed when the forwarding stopped."""
        if "Forward statistics for port 0" not in self.log.read_text():
            self.pause()
        self._command("quit")
        self.proc.wait(timeout=30)
        shutil.rmtree(f"/var/run/dpdk/icpd-{self.name}", ignore_errors=True)
        stats = forward_stats(self.log.read_text())
        assert 0 in stats, f"no final statistics from {self.name}:\n{self.log.read_text()[-2000:]}"
        return stats[0]


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment resolving icperf.lab from a private collections path."""
    tmp = tmp_path_factory.mktemp("icpd-ansible")
    (tmp / "ansible_collections" / "icperf").mkdir(parents=True)
    (tmp / "ansible_collections" / "icperf" / "lab").symlink_to(REPO)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(tmp),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_LOCAL_TEMP=str(tmp / "tmp"),
        PATH=f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def play(
    env: dict[str, str],
    playbook: str,
    ok: bool = True,
    check: bool = False,
    kill_after: int = 0,
    **extra: Any,
) -> Play:
    """Run a playbook; with ``kill_after`` N, SIGKILL it once N role tasks changed the host."""
    python = str(ANSIBLE_PLAYBOOK.parent / "python")
    variables = json.dumps({**ROLE_VARS, "ansible_python_interpreter": python, **extra})
    argv = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(PLAYBOOKS / playbook), "-e", variables]
    argv += ["--check"] if check else []
    if kill_after:
        # callback_plugins/icpd_kill.py, next to the playbooks.
        env = {**env, "ANSIBLE_CALLBACKS_ENABLED": "icpd_kill", "ICPD_KILL_AFTER": str(kill_after)}
    # Run from the collections directory: no ansible.cfg there, only the settings above.
    cwd = env["ANSIBLE_COLLECTIONS_PATH"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    result = Play(done.returncode, done.stdout + done.stderr)
    if ok and result.rc != 0:
        pytest.fail(f"{playbook} {extra} failed:\n{result.output[-4000:]}")
    return result


def switch(env: dict[str, str], vswitch: str, action: str, pairs: int = 1) -> dict[str, Any]:
    report = STATE_DIR / f"icpd-{vswitch}-{action}.json"
    extra = {"icpd_vswitch": vswitch, "icpd_action": action, "icpd_pairs": pairs}
    play(env, "switch.yml", icpd_report=str(report), **extra)
    return json.loads(report.read_text())


def hugetlbfs_mounts() -> list[str]:
    lines = Path("/proc/mounts").read_text().splitlines()
    return sorted(line.split()[1] for line in lines if line.split()[2] == "hugetlbfs")


def pids_of(command: str) -> list[int]:
    return [int(p) for p in run(["pgrep", "-x", command], check=False).split()]


def icpd_testpmds() -> list[int]:
    """testpmd processes of these tests (other tests on the host use other prefixes)."""
    found = run(["pgrep", "-f", "dpdk-testpmd.*--file-prefix=icpd-"], check=False)
    return [int(p) for p in found.split()]


def ovs_state() -> dict[str, Any]:
    """Whether the OVS daemons run, and (when the database answers) bridges and DPDK keys."""
    state: dict[str, Any] = {d: bool(pids_of(d)) for d in ("ovsdb-server", "ovs-vswitchd")}
    if state["ovsdb-server"]:
        state["bridges"] = run(["ovs-vsctl", "--no-wait", "list-br"]).split()
        get = ["ovs-vsctl", "--no-wait", "get", "Open_vSwitch", ".", "other_config"]
        state["other_config"] = run(get).strip()
    else:
        selects = (("Open_vSwitch", "other_config"), ("Bridge", "name"))
        query = ["Open_vSwitch"] + [
            {"op": "select", "table": table, "where": [], "columns": [column]}
            for table, column in selects
        ]
        state["db"] = run(["ovsdb-tool", "query", "/etc/openvswitch/conf.db", json.dumps(query)])
    return state


def host_state() -> dict[str, Any]:
    return {
        "nr_hugepages": Path("/proc/sys/vm/nr_hugepages").read_text().strip(),
        "icpd_hugetlbfs": str(HUGE_MOUNT) in hugetlbfs_mounts(),
        "huge_mount_exists": HUGE_MOUNT.exists(),
        "ovs": ovs_state(),
        "testpmd": icpd_testpmds(),
    }


def leftovers() -> list[str]:
    """Sockets, pid files and DPDK runtime directories a stopped switch must not leave."""
    found = [str(p) for p in SOCK_DIR.glob("*.sock")]
    found += [str(p) for p in Path("/var/run/dpdk").glob("icpd-*")]
    found += [str(p) for p in STATE_DIR.glob("*.pid")]
    if not pids_of("ovs-vswitchd"):
        found += [str(p) for p in OVS_RUNDIR.glob("ovs-vswitchd*")]
        found += [str(p) for p in OVS_RUNDIR.glob(f"{ROLE_VARS['vswitch_ovs_bridge']}.*")]
    return found


@pytest.fixture(scope="module")
def host_lock() -> Iterator[None]:
    with LOCK_FILE.open("w") as lock:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while not _try_lock(lock.fileno()):
            if time.monotonic() > deadline:
                pytest.fail(f"{LOCK_FILE} held by another run for {LOCK_TIMEOUT} s")
            time.sleep(1)
        yield


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@pytest.fixture(scope="module")
def provisioned(ansible_env: dict[str, str], host_lock: None) -> Iterator[dict[str, Any]]:
    """The host provisioned once (packages, alternatives, hugepages); yields its state before."""
    before = host_state()
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    try:
        play(ansible_env, "provision.yml")
        yield before
    finally:
        play(ansible_env, "hugepages.yml", ok=False, icpd_action="restore")
        shutil.rmtree(SOCK_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def leave_nothing_running(ansible_env: dict[str, str]) -> Iterator[None]:
    """After a failed test too: no endpoint left, and every switch stopped by its role."""
    yield
    for pid in icpd_testpmds():
        os.kill(pid, signal.SIGKILL)
    for vswitch in ("basicfwd", "ovs"):
        if (STATE_DIR / f"{vswitch}.json").exists():
            play(ansible_env, "switch.yml", ok=False, icpd_vswitch=vswitch, icpd_action="stop")


def test_second_provisioning_changes_nothing(
    ansible_env: dict[str, str], provisioned: dict[str, Any]
) -> None:
    assert play(ansible_env, "provision.yml").changed == 0
    assert int(Path("/proc/sys/vm/nr_hugepages").read_text()) >= ROLE_VARS["hugepages_count"]
    assert str(HUGE_MOUNT) in hugetlbfs_mounts()
    assert "ovs-vswitchd-dpdk" in os.path.realpath("/usr/sbin/ovs-vswitchd")


def test_source_build_is_guarded(
    ansible_env: dict[str, str], host_lock: None, tmp_path: Path
) -> None:
    bad = play(ansible_env, "dpdk_source.yml", ok=False, check=True, dpdk_source_version="22.x")
    assert bad.rc != 0 and "dpdk_source_version must be a release number" in bad.output
    # A prefix that already holds testpmd is not rebuilt: no download is tried (this
    # host cannot reach fast.dpdk.org, so any attempt would fail the run).
    prefix = tmp_path / "dpdk-22.11.4"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "dpdk-testpmd").symlink_to(TESTPMD)
    (prefix / "lib" / "pkgconfig").mkdir(parents=True)
    (prefix / "lib" / "pkgconfig" / "libdpdk.pc").write_text(
        "Name: DPDK\nDescription: DPDK\nVersion: 22.11.4\nLibs:\nCflags:\n"
    )
    source = {"dpdk_source_version": "22.11.4", "dpdk_source_dir": str(tmp_path / "src")}
    built = play(ansible_env, "dpdk_source.yml", dpdk_source_prefix=str(prefix), **source)
    assert built.changed == 0 and not (tmp_path / "src").exists()
    absent = str(tmp_path / "absent")
    dry = play(ansible_env, "dpdk_source.yml", check=True, dpdk_source_prefix=absent, **source)
    assert "would download https://fast.dpdk.org/rel/dpdk-22.11.4.tar.xz" in dry.output
    assert not (tmp_path / "absent").exists() and not (tmp_path / "src").exists()


def test_basicfwd_forwards_each_pair(
    ansible_env: dict[str, str], provisioned: dict[str, Any]
) -> None:
    started = switch(ansible_env, "basicfwd", "start", pairs=2)
    assert re.fullmatch(r"testpmd io \(DPDK \d+\.\d+\.\d+\)", started["version"])
    assert started["role_version"] == started["version"]
    ports = {p["name"]: p for p in started["ports"]}
    fwd_port = {p["name"]: p["port"] for p in started["basicfwd_ports"]}
    receivers = {n: Endpoint(n, p, "rxonly", False) for n, p in ports.items() if p["app"] == "recv"}
    senders = {n: Endpoint(n, p, "txonly", False) for n, p in ports.items() if p["app"] == "send"}
    time.sleep(3)
    for endpoint in senders.values():
        endpoint.pause()
    time.sleep(1)  # the switch and the receivers drain their rings
    for endpoint in receivers.values():
        endpoint.pause()
    sent = {name: ep.finish() for name, ep in senders.items()}
    received = {name: ep.finish() for name, ep in receivers.items()}
    switch(ansible_env, "basicfwd", "stop")
    fwd = forward_stats((STATE_DIR / "basicfwd.log").read_text())
    assert len(senders) == 2 and len(receivers) == 2
    for name, out in sent.items():
        peer = ports[name]["peer"]
        inbound, outbound = fwd[fwd_port[name]], fwd[fwd_port[peer]]
        assert out.tx == inbound.rx > 0, (name, out, inbound)
        # io forwarding: all that enters a port leaves by its pair's port, and only that.
        assert outbound.tx + outbound.tx_dropped == inbound.rx, (name, inbound, outbound)
        assert received[peer].rx == outbound.tx > 0, (peer, received[peer], outbound)
        assert inbound.tx == 0 and outbound.rx == 0
    assert leftovers() == [] and not icpd_testpmds()


def ovs_interface(name: str) -> dict[str, int]:
    text = run(["ovs-vsctl", "get", "Interface", name, "statistics"])
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


def ovs_live_counts(ofport: int) -> tuple[int, int]:
    """(rx, tx) packets of a port as the datapath counts them now."""
    text = run(["ovs-ofctl", "dump-ports", ROLE_VARS["vswitch_ovs_bridge"], str(ofport)])
    rx, tx = re.search(r"rx pkts=(\d+).*?tx pkts=(\d+)", text, re.S).groups()  # type: ignore[union-attr]
    return int(rx), int(tx)


def settled_ovs_stats(ofports: dict[str, int], names: list[str]) -> dict[str, dict[str, int]]:
    """Interface statistics once the database (refreshed every 5 s) shows the live counts."""
    deadline = time.monotonic() + 15
    while True:
        stats = {name: ovs_interface(name) for name in names}
        live = {name: ovs_live_counts(ofports[name]) for name in names}
        shown = {n: (s.get("rx_packets", 0), s.get("tx_packets", 0)) for n, s in stats.items()}
        if shown == live:
            return stats
        if time.monotonic() > deadline:
            pytest.fail(f"OVS statistics {shown} never showed the datapath's {live}")
        time.sleep(0.5)


def test_ovs_learns_and_switches(ansible_env: dict[str, str], provisioned: dict[str, Any]) -> None:
    before = ovs_state()
    started = switch(ansible_env, "ovs", "start", pairs=1)
    assert re.fullmatch(r"ovs \d+\.\d+\.\d+ \(DPDK \d+\.\d+\.\d+\)", started["version"])
    ofports = started["ovs"]["ofports"]
    assert started["ovs"]["other_config"]["per-port-memory"] == "true"
    pmd_mask = sum(1 << core for core in started["cores"])
    assert started["ovs"]["other_config"]["pmd-cpu-mask"] == hex(pmd_mask)
    sender, receiver = started["ports"]
    assert (sender["app"], receiver["app"]) == ("send", "recv")
    # The receiver reflects every frame (macswap), so the bridge learns both addresses.
    rx_ep = Endpoint(receiver["name"], receiver, "macswap", server=True)
    tx_ep = Endpoint(sender["name"], sender, "txonly", server=True)
    time.sleep(3)
    tx_ep.pause()
    time.sleep(1)  # OVS and the receiver drain their rings
    rx_ep.pause()
    stats = settled_ovs_stats(ofports, [sender["name"], receiver["name"]])
    fdb_text = run(["ovs-appctl", "fdb/show", ROLE_VARS["vswitch_ovs_bridge"]])
    fdb = re.findall(r"^\s*(\d+)\s+\d+\s+([0-9a-f:]{17})\s+\d+", fdb_text, re.M)
    pmd = run(["ovs-appctl", "dpif-netdev/pmd-stats-show"])
    sent, reflected = tx_ep.finish(), rx_ep.finish()
    into, out_of = stats[sender["name"]], stats[receiver["name"]]
    learned = {mac: int(port) for port, mac in fdb}
    assert learned == {p["mac"]: ofports[p["name"]] for p in (sender, receiver)}, fdb_text
    assert sent.tx == into["rx_packets"] > 0, (sent, into)
    assert out_of["tx_packets"] + out_of["tx_dropped"] == into["rx_packets"]
    assert reflected.rx == out_of["tx_packets"] > 0
    assert reflected.tx == out_of["rx_packets"]
    assert into["tx_packets"] + into["tx_dropped"] == out_of["rx_packets"]
    received_by_pmds = sum(int(n) for n in re.findall(r"packets received: (\d+)", pmd))
    assert received_by_pmds == into["rx_packets"] + out_of["rx_packets"]
    switch(ansible_env, "ovs", "stop")
    assert ovs_state() == before
    assert leftovers() == []


def test_killed_switches_are_cleaned_up(
    ansible_env: dict[str, str], provisioned: dict[str, Any]
) -> None:
    started = switch(ansible_env, "basicfwd", "start")
    sender, receiver = started["ports"]
    ends = [Endpoint(receiver["name"], receiver, "rxonly", False)]
    ends.append(Endpoint(sender["name"], sender, "txonly", False))
    os.kill(int((STATE_DIR / "basicfwd.pid").read_text()), signal.SIGKILL)
    time.sleep(0.5)
    assert ends[1].finish().tx > 0  # the sender was sending when the switch died
    ends[0].finish()
    assert len(list(SOCK_DIR.glob("*.sock"))) == 2  # what the killed testpmd left
    switch(ansible_env, "basicfwd", "stop")
    assert leftovers() == [] and not icpd_testpmds()

    before = ovs_state()
    started = switch(ansible_env, "ovs", "start")
    sender, receiver = started["ports"]
    ends = [Endpoint(receiver["name"], receiver, "rxonly", True)]
    ends.append(Endpoint(sender["name"], sender, "txonly", True))
    os.kill(int((OVS_RUNDIR / "ovs-vswitchd.pid").read_text()), signal.SIGKILL)
    time.sleep(0.5)
    assert ends[1].finish().tx > 0
    ends[0].finish()
    assert (OVS_RUNDIR / "ovs-vswitchd.pid").exists()  # what the killed daemon left
    switch(ansible_env, "ovs", "stop")
    assert ovs_state() == before
    assert leftovers() == []


def test_ovs_stop_after_a_start_killed_at_each_step_leaves_the_host_clean(
    ansible_env: dict[str, str], provisioned: dict[str, Any]
) -> None:
    """Kill start after each step that changes the host, then stop: OVS as found each time."""
    state_file = STATE_DIR / "ovs.json"
    before = ovs_state()
    step = 0
    while True:
        step += 1
        extra = {"icpd_vswitch": "ovs", "icpd_action": "start"}
        started = play(ansible_env, "switch.yml", ok=False, kill_after=step, **extra)
        killed = started.rc == -signal.SIGKILL
        assert killed or started.rc == 0, f"step {step}:\n{started.output[-3000:]}"
        saved = json.loads(state_file.read_text()) if state_file.exists() else None
        stopped = play(ansible_env, "switch.yml", ok=False, icpd_vswitch="ovs", icpd_action="stop")
        assert stopped.rc == 0, f"stop after step {step} ({saved}):\n{stopped.output[-3000:]}"
        assert ovs_state() == before, f"after a start killed at step {step} ({saved})"
        assert leftovers() == [] and not state_file.exists(), step
        if not killed:
            break
    # Killed once the daemons were saved, other_config saved, then set, ovs-vswitchd
    # (re)started, the bridge created and its flow set (at least); the last round, a
    # whole start and stop after all those, was not killed.
    assert step > 6


def test_restore_leaves_host_as_found(
    ansible_env: dict[str, str], provisioned: dict[str, Any]
) -> None:
    play(ansible_env, "hugepages.yml", icpd_action="restore")
    deadline = time.monotonic() + 30  # the kernel frees pages lazily
    while host_state() != provisioned and time.monotonic() < deadline:
        time.sleep(0.5)
    assert host_state() == provisioned
    assert play(ansible_env, "hugepages.yml", icpd_action="restore").changed == 0
