"""A lab host lost mid-test, on this machine: lab1 as in test_two_hosts_run.py (a local
connection), lab2 reached over SSH, through an sshd of the test's own on a loopback port.

While lab1's sender runs, that sshd and its sessions' sshd processes are killed: every
connection to lab2 is cut and new ones are refused, as with a dead host. The test is
recorded failed naming lab2, lab1 is restored, the second test (it needs lab2) is not
started and the run names it. With the sshd back, the same command restores lab2 (its
receiver was left running) and completes what is missing.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    HOST_TEST_MARKS,
    STATE_DIR,
    PlaybookRun,
    container_state,
    host_state,
    links,
    run_playbook,
)
from .records import summary
from .test_two_hosts_run import (
    CABLE,
    cable,  # noqa: F401 (the fixture)
    cable_state,
    host_vars,
    lab2_container_state,
    own_state,
    records,
    split_lab,
    two_host_vars,
)

pytestmark = HOST_TEST_MARKS

SSHD = Path("/usr/sbin/sshd")


class Sshd:
    """An sshd of the test's own on 127.0.0.1:port, root's key login only; ``kill`` ends it
    and cuts every session it serves, as a host's death cuts them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "icpl",
                            "-f", str(workdir / name)], check=True)  # fmt: skip
        (workdir / "authorized_keys").write_text((workdir / "client_key.pub").read_text())
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.known_hosts = workdir / "known_hosts"
        key = " ".join((workdir / "host_key.pub").read_text().split()[:2])
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {key}\n")
        self.config = workdir / "sshd_config"
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1",
            f"HostKey {workdir / 'host_key'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no",
            # The keys live under pytest's directory, below the world-writable /tmp.
            "StrictModes no",
            f"PidFile {workdir / 'sshd.pid'}", "",
        ]))  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation
        log = (self.workdir / "sshd.log").open("ab")
        self.process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(self.config)],
                                        stdout=log, stderr=log)  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"sshd on port {self.port} did not listen within 10 s")

    def sessions(self) -> list[int]:
        """The listener's sshd descendants: one or two per open session."""
        table = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,comm="], capture_output=True,
                               text=True, check=True).stdout.splitlines()  # fmt: skip
        children: dict[int, list[tuple[int, str]]] = {}
        for line in table:
            pid, ppid, comm = line.split(None, 2)
            children.setdefault(int(ppid), []).append((int(pid), comm.strip()))
        found: list[int] = []
        todo = [self.process.pid] if self.process else []
        while todo:
            for pid, comm in children.get(todo.pop(), []):
                if comm == "sshd":
                    found.append(pid)
                    todo.append(pid)
        return found

    def kill(self) -> list[int]:
        """The listener and its sessions' sshd processes killed: every connection to lab2
        cut at once, new ones refused. What the sessions were running (shells, modules) is
        left to end by itself once its connection is gone, as behind a cut cable: killed
        midway, a login shell's start-up files could leave their own locks behind in the
        user's home, which this machine shares with the controller."""
        if self.process is None:
            return []
        sessions = self.sessions()
        self.process.kill()
        self.process.wait(timeout=10)
        for pid in sessions:
            subprocess.run(["kill", "-KILL", str(pid)], capture_output=True)
        self.process = None
        return sessions

    def host_vars(self) -> dict[str, Any]:
        return {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.workdir / "client_key"),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts}",
            # Refused is dead here: no minute of ansible.cfg's retries before saying so.
            "ansible_ssh_retries": 0,
        }


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    if not SSHD.exists():
        pytest.fail(f"{SSHD} missing: scripts/setup.sh installs openssh-server")
    workdir = tmp_path / "sshd"
    workdir.mkdir()
    server = Sshd(workdir)
    server.start()
    yield server
    server.kill()


def inventory(tmp: Path, server: Sshd) -> Path:
    hosts = {"lab1": host_vars("lab1", CABLE[0]),
             "lab2": {**host_vars("lab2", CABLE[1]), **server.host_vars()}}  # fmt: skip
    path = tmp / "inventory.yml"
    path.write_text(json.dumps({"all": {"children": {"icperf_hosts": {"hosts": hosts}}}}))
    return path


def messages(run: PlaybookRun) -> list[str]:
    return [str(e["event_data"]["res"].get("msg", "")) for e in run.failures()]


@pytest.mark.usefixtures("provisioned", "cable")
def test_a_receiving_host_lost_mid_test_is_named_and_the_rerun_completes(
    tmp_path: Path, clean_host: dict[str, Any], sshd: Sshd
) -> None:
    before = cable_state()
    hosts = inventory(tmp_path, sshd)
    extravars = two_host_vars(tmp_path, labs=[split_lab(tmp_path)], duration=8,
                              pkt_sizes=[64, 128])  # fmt: skip
    outcome: dict[str, PlaybookRun] = {}
    thread = threading.Thread(target=lambda: outcome.update(
        run=run_playbook(tmp_path / "first", "testset.yml", extravars, inventory=hosts)))
    thread.start()
    deadline = time.monotonic() + 600
    while container_state("icpl-s0") != "RUNNING" and thread.is_alive():
        assert time.monotonic() < deadline, "the sender did not start within 600 s"
        time.sleep(0.2)
    assert thread.is_alive(), "the run ended before its sender started"
    time.sleep(2)
    assert sshd.kill(), "the run had no SSH session to lab2 open"
    thread.join(timeout=600)
    assert not thread.is_alive()
    run = outcome["run"]

    assert run.rc != 0
    tests = records(tmp_path / "results", by="pkt_size")
    assert list(tests) == [64], (list(tests), messages(run), run.stdout[-4000:])
    assert tests[64]["status"] == "failed"
    assert "lab2: unreachable during the test" in tests[64]["reason"], tests[64]["reason"]
    # The sender ran to its end on lab1, its log fetched.
    assert summary(tests[64]["folder"] / "icpl-s0.send.jsonl")["sent"] > 0
    assert any("tests not run, their hosts (lab2) unreachable" in m and "/128/" in m
               for m in messages(run)), messages(run)  # fmt: skip
    # lab1 restored: its container, bridge and state files gone; lab2's part left running.
    assert container_state("icpl-s0") == ""
    assert "icplbr-lab1" not in links()
    assert not list(STATE_DIR.glob("icpl-lab1-*.json"))
    assert lab2_container_state("icpl-r0") == "RUNNING"

    sshd.start()
    rerun = run_playbook(tmp_path / "second", "testset.yml", extravars, inventory=hosts)

    assert rerun.rc == 0, rerun.stdout[-4000:]
    tests = records(tmp_path / "results", by="pkt_size")
    assert sorted(tests) == [64, 128]
    for size, record in tests.items():
        assert record["status"] == "ok", (size, record["reason"])
        got = summary(record["folder"] / "icpl-r0.recv.jsonl")
        assert got["rx"] == summary(record["folder"] / "icpl-s0.send.jsonl")["sent"] > 0
    assert host_state() == clean_host
    assert own_state() == []
    assert cable_state() == before
