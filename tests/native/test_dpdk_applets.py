"""dpdk-send, dpdk-recv, dpdk-client and dpdk-server through a real DPDK switch.

The switch is dpdk-testpmd forwarding (io mode) between two vhost-user ports; each applet
attaches to one of them with a virtio-user port. Everything runs without hugepages
(--no-huge: memfd-backed memory, which vhost-user can share), so the host's hugepage pool is
never touched. Frames the switch dropped are read from testpmd's final forward statistics,
printed when it quits on SIGINT.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from icperf_run import NATIVE, Applet, Finished

pytestmark = pytest.mark.root

PREFIX = "icpx"
TESTPMD = shutil.which("dpdk-testpmd")
RUNTIME = Path("/var/run/dpdk")
RING = "16384"
MAC_A, MAC_B = "02:69:63:70:78:0a", "02:69:63:70:78:0b"
IP_A, IP_B = "10.203.0.1", "10.203.0.2"
ENDS_A = [IP_A, MAC_A, IP_B, MAC_B]  # the applet on port 0 talking to the one on port 1
ENDS_B = [IP_B, MAC_B, IP_A, MAC_A]


def _has_libdpdk() -> bool:
    pkg = shutil.which("pkg-config")
    return bool(pkg) and subprocess.run([pkg, "--exists", "libdpdk"], check=False).returncode == 0


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: DPDK EAL, vhost-user sockets"
    if not _has_libdpdk():
        return "libdpdk is not installed (pkg-config libdpdk): no dpdk-* applets are built"
    if not TESTPMD:
        return "dpdk-testpmd is not installed: no switch to test through"
    return None


@dataclass
class PortStats:
    rx: int
    rx_dropped: int
    tx: int
    tx_dropped: int


class Switch:
    """dpdk-testpmd forwarding between vhost-user ports 0 and 1 (sockets s0, s1 in `dir`)."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.dir = tmp
        self.prefix = f"{PREFIX}-{os.getpid()}-{name}"
        self.log = tmp / "testpmd.log"
        argv = [
            str(TESTPMD), "--lcores", "0@1,1@1", "--no-pci", "--file-prefix", self.prefix,
            "--no-huge", "-m", "512",
            "--vdev", f"net_vhost0,iface={self.socket(0)}",
            "--vdev", f"net_vhost1,iface={self.socket(1)}",
            "--", "--forward-mode=io", "--auto-start", "--stats-period", "1",
            "--rxd", RING, "--txd", RING, "--total-num-mbufs", "40000",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while "start packet forwarding" not in self.log.read_text(errors="replace"):
            assert self.proc.poll() is None, f"testpmd exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"testpmd not forwarding:\n{self.log.read_text()}"
            time.sleep(0.05)

    def socket(self, port: int) -> Path:
        return self.dir / f"s{port}.sock"

    def eal(self, port: int, name: str, cores: str = "0") -> list[str]:
        """EAL arguments of an applet attached to switch port `port`."""
        return [
            "-l", cores, "--no-pci", "--file-prefix", f"{self.prefix}-{name}",
            "--no-huge", "-m", "256",
            f"--vdev=net_virtio_user0,path={self.socket(port)},queue_size={RING}",
        ]  # fmt: skip

    def stop(self) -> dict[int, PortStats]:
        """Quits testpmd and returns its forward statistics per port."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=15)
        text = self.log.read_text(errors="replace")
        stats = {}
        for m in re.finditer(
            r"Forward statistics for port (\d+).*?RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)"
            r".*?TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)", text, re.S
        ):
            port, *counts = (int(g) for g in m.groups())
            stats[port] = PortStats(*counts)
        assert set(stats) == {0, 1}, f"no forward statistics from testpmd:\n{text[-3000:]}"
        return stats

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for entry in RUNTIME.glob(f"{self.prefix}*"):
            shutil.rmtree(entry, ignore_errors=True)


@pytest.fixture(scope="module")
def dpdk_icperf(icperf: Path) -> Path:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    done = subprocess.run([str(icperf), "dpdk-send", "--help"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, f"libdpdk is installed but the build has no dpdk-send: {done}"
    return icperf


@pytest.fixture
def switch(dpdk_icperf: Path, request: pytest.FixtureRequest) -> Iterator[Switch]:
    tmp = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-"))
    sw = Switch(tmp, re.sub(r"\W", "", request.node.name)[-24:])
    try:
        sw.wait_ready()
        yield sw
    finally:
        sw.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def start(args: list[str]) -> Applet:
    proc = Applet(None, args)
    proc.wait_started(timeout=15)
    return proc


def stop(proc: Applet) -> Finished:
    proc.send_signal(signal.SIGTERM)
    done = proc.finish(timeout=10)
    assert done.returncode == 0, done.stderr
    return done


def test_send_recv_delivery_and_accounting(switch: Switch) -> None:
    recv = start(["dpdk-recv", *ENDS_B, "--json", "--ring", RING, "--", *switch.eal(1, "r")])
    try:
        time.sleep(0.5)  # the switch marks the new vhost port ready asynchronously
        send = Applet(None, ["dpdk-send", *ENDS_A, "--json", "-r", "10000", "-t", "3",
                             "--ring", RING, "--", *switch.eal(0, "s")])
        sent = send.finish(timeout=30)
        assert sent.returncode == 0, sent.stderr
        time.sleep(0.5)
        ports = switch.stop()
        got = stop(recv)
    finally:
        recv.kill()
    s, r = sent.summary(), got.summary()
    assert s["app"] == "dpdk-send" and sent.records()[0]["transport"] == "dpdk"
    assert s["reason"] == "duration" and s["attempted"] >= 29_000 and s["sent"] > 0
    # Every frame the sender's port accepted reached the switch ...
    assert ports[0].rx + ports[0].rx_dropped == s["sent"]
    # ... and the receiver got what the switch passed on, no more, no less.
    dropped = ports[0].rx_dropped + ports[1].tx_dropped
    assert r["rx"] == ports[1].tx == s["sent"] - dropped, (s, r, ports)
    assert r["duplicated"] == 0 and r["reordered"] == 0
    assert 0 <= r["lost"] <= dropped
    if dropped == 0:
        assert r["lost"] == 0 and r["rx"] == s["sent"]
    seconds = sent.of_type("second")
    assert len(seconds) == 3 and sum(x["sent"] for x in seconds) == s["sent"]


def test_client_server_echo(switch: Switch) -> None:
    server = start(["dpdk-server", *ENDS_B, "--json", "--ring", RING, "--",
                    *switch.eal(1, "srv")])
    try:
        time.sleep(0.5)
        client = Applet(None, ["dpdk-client", *ENDS_A, "--json", "-r", "10000", "-t", "3",
                               "--ring", RING, "--", *switch.eal(0, "cli", "0,1")])
        echoed = client.finish(timeout=30)
        assert echoed.returncode == 0, echoed.stderr
        ports = switch.stop()
        served = stop(server)
    finally:
        server.kill()
    c, srv = echoed.summary(), served.summary()
    assert c["reason"] == "duration" and c["sent"] > 0
    to_server = ports[0].rx_dropped + ports[1].tx_dropped
    to_client = ports[1].rx_dropped + ports[0].tx_dropped
    assert srv["rx"] == c["sent"] - to_server, (c, srv, ports)
    assert srv["tx"] == srv["rx"]  # nothing else queued in the server's ring at 10 kpps
    assert c["echoed"] == srv["tx"] - to_client > 0
    hist = echoed.of_type("hist")
    assert len(hist) == 1 and sum(n for _, n in hist[0]["buckets"]) == c["echoed"]
    assert 0 < c["rtt_min_ns"] <= c["rtt_p50_ns"] <= c["rtt_max_ns"]
    assert sum(x["echoed"] for x in echoed.of_type("second")) == c["echoed"]


@pytest.mark.parametrize("mismatch", ["mac", "ip", "port"])
def test_receiver_drops_frames_not_addressed_to_it(switch: Switch, mismatch: str) -> None:
    ends = {"mac": [IP_B, "02:69:63:70:78:0c", IP_A, MAC_A],
            "ip": [IP_B[:-1] + "9", MAC_B, IP_A, MAC_A], "port": ENDS_B}[mismatch]
    port = ["--port", "9001"] if mismatch == "port" else []
    recv = start(["dpdk-recv", *ends, *port, "--json", "--", *switch.eal(1, "r")])
    try:
        time.sleep(0.5)
        send = Applet(None, ["dpdk-send", *ENDS_A, "--json", "-r", "10000", "-t", "1", "--",
                             *switch.eal(0, "s")])
        sent = send.finish(timeout=30)
        assert sent.returncode == 0, sent.stderr
        time.sleep(0.3)
        ports = switch.stop()
        got = stop(recv)
    finally:
        recv.kill()
    assert sent.summary()["sent"] > 0
    assert ports[1].tx > 0  # the frames did reach the receiver's port ...
    assert got.summary()["rx"] == 0  # ... and were not counted as its own


@pytest.mark.parametrize(("applet", "sig"), [("dpdk-send", signal.SIGTERM),
                                             ("dpdk-recv", signal.SIGTERM),
                                             ("dpdk-client", signal.SIGINT),
                                             ("dpdk-server", signal.SIGTERM)])
def test_signal_ends_run_with_summary(switch: Switch, applet: str, sig: int) -> None:
    rate = ["-r", "1000"] if applet in ("dpdk-send", "dpdk-client") else []
    cores = "0,1" if applet == "dpdk-client" else "0"
    socket_only = ["-B", "-m", "-R", "eth0"]  # accepted and ignored
    proc = start([applet, *ENDS_A, "--json", *rate, *socket_only, "--",
                  *switch.eal(0, "a", cores)])
    try:
        time.sleep(0.5)
        proc.send_signal(sig)
        done = proc.finish(timeout=10)
    finally:
        proc.kill()
    assert done.returncode == 0, done.stderr
    first = done.records()[0]
    assert first["transport"] == "dpdk" and first["iface"] is None
    assert not first["blocking"] and not first["mmsg"]
    types = [r["type"] for r in done.records()]
    tail = ["summary", "hist"] if applet == "dpdk-client" else ["summary"]
    assert types[0] == "start" and types[-len(tail):] == tail, types
    s = done.summary()
    assert s["app"] == applet and s["reason"] == "signal" and 0.3 < s["elapsed"] < 5
    if rate:
        assert s["attempted"] > 0
    assert "Traceback" not in done.stderr and "Segmentation" not in done.stderr


@pytest.mark.parametrize(("eal", "says"), [
    (["--bogus-eal-flag"], "--bogus-eal-flag"),
    (["-l", "99", "--no-huge"], "core"),
    (["--no-huge", "-m", "64", "--no-pci", "--vdev=net_virtio_user0,path=/nonexistent.sock"],
     "no Ethernet port"),
    (["--no-huge", "-m", "64", "--no-pci"], "no Ethernet port"),
])
def test_bad_eal_arguments_give_one_line(dpdk_icperf: Path, eal: list[str], says: str) -> None:
    prefix = f"{PREFIX}-{os.getpid()}-bad"
    try:
        done = subprocess.run([str(dpdk_icperf), "dpdk-send", *ENDS_A, "--json", "--",
                               "--file-prefix", prefix, *eal],
                              capture_output=True, text=True, timeout=30, check=False)
    finally:
        for entry in RUNTIME.glob(f"{prefix}*"):
            shutil.rmtree(entry, ignore_errors=True)
    assert done.returncode == 1 and done.stdout == "", done
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("icperf: dpdk-send: "), lines
    assert says in lines[0]


def test_ring_option_is_checked(icperf: Path) -> None:
    for applet, ring, says in [("send", "1024", "only the dpdk-* applets"),
                               ("dpdk-recv", "16", "64..32768"),
                               ("dpdk-recv", "12x", "64..32768")]:
        done = subprocess.run([str(icperf), applet, *ENDS_A, "--ring", ring],
                              capture_output=True, text=True, timeout=10, check=False)
        if applet.startswith("dpdk-") and "unknown applet" in done.stderr:
            continue  # a build without libdpdk has no dpdk-* applets to ask
        assert done.returncode == 2 and done.stdout == "", done
        assert done.stderr.startswith(f"icperf: --ring {ring}: ") and says in done.stderr


def test_build_without_libdpdk(tmp_path: Path) -> None:
    """With pkg-config unable to find libdpdk the socket applets still build, without dpdk-*."""
    empty = tmp_path / "pkgconfig"
    empty.mkdir()
    build = tmp_path / "build"
    env = dict(os.environ, PKG_CONFIG_PATH=str(empty), PKG_CONFIG_LIBDIR=str(empty))
    for pkg_config in ("false", "pkg-config"):
        shutil.rmtree(build, ignore_errors=True)
        done = subprocess.run(["make", "-C", str(NATIVE), f"BUILD={build}",
                               f"PKG_CONFIG={pkg_config}"],
                              capture_output=True, text=True, timeout=300, check=False, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "DPDK" not in done.stdout and "rte_" not in done.stdout
        binary = build / "icperf"
        ask = subprocess.run([str(binary), "dpdk-send"], capture_output=True, text=True,
                             check=False)
        assert ask.returncode == 2 and "unknown applet" in ask.stderr
        assert subprocess.run([str(binary), "selftest-hist"], capture_output=True,
                              check=False).returncode == 0
