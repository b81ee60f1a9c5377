"""Faults of a test across two guest hosts joined by a cable (harness --wire), each survived
as a user would need: both hosts' SSH dropping mid-test and coming back (nothing lost), the
controller interrupted by SIGINT mid-test (the same command restores both hosts and
completes the test), the receiving host dying mid-test (the test recorded failed naming it,
the sending host restored, the rest named as not run, completed once the host is back).
Two guests of their own, one vCPU each, provisioned by the first test set.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import SYSTEM_MARKS, TIMINGS, extravars_for_testset, run_testset
from .harness import REPO, GuestPool
from .remote import (
    CUT_SESSIONS,
    DROP_SECONDS,
    TESTSET,
    check_across,
    drop_ssh,
    host_clean,
    lab_inventory,
    records,
    ssh_down_seconds,
    wait_for_senders,
)

pytestmark = SYSTEM_MARKS


def test_ssh_that_drops_and_comes_back_mid_test_loses_nothing(
    cabled_pair: GuestPool, cabled_inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Both hosts' SSH cut and refused for 20 s while the senders run: the test's steps go on
    as jobs on the hosts, the controller reconnects, and the test ends complete: every packet
    counted, both hosts' logs fetched."""
    tmp = tmp_path_factory.mktemp("remote-ssh-drop")
    results = tmp / "results"
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["run"] = run_testset(tmp, cabled_inventory, "linux-bridge", ["remote-1vs1.yml"],
                                     results, **{**TESTSET, "duration": 30})  # fmt: skip

    thread = threading.Thread(target=run)
    thread.start()
    wait_for_senders(cabled_pair.guests[0], thread.is_alive)
    assert thread.is_alive(), "the run ended before its senders started"
    for guest in cabled_pair.guests:
        drop_ssh(guest, DROP_SECONDS)
    dropped_at = time.monotonic()
    thread.join(timeout=1800)
    assert not thread.is_alive()
    # The drop was real and as long as meant: each guest's sshd stopped, then started again
    # DROP_SECONDS later (and the starting, under TCG, within a few seconds more).
    down = {g.name: round(ssh_down_seconds(g), 1) for g in cabled_pair.guests}
    assert all(DROP_SECONDS <= s < DROP_SECONDS + 15 for s in down.values()), down
    TIMINGS["remote: from SSH dropped (20 s) to the run's end (s)"] = round(
        time.monotonic() - dropped_at, 1)
    played = outcome["run"]
    assert played.rc == 0, played.failure_messages() or played.stdout[-8000:]
    # The controller's connections were live when they were cut (Ansible keeps each host's
    # open between tasks).
    cut = {g.name: g.ssh(f"cat {CUT_SESSIONS}").stdout.split() for g in cabled_pair.guests}
    assert all(cut.values()), cut
    record = records(results)["remote"]
    TIMINGS["remote linux-bridge 1vs1, SSH dropped mid-test"] = json.dumps(
        {**check_across(record, cabled_pair.guests), "sshd sessions cut": cut,
         "SSH down (s)": down})  # fmt: skip
    for guest in cabled_pair.guests:
        assert host_clean(guest) == "", guest.name


def test_the_controller_interrupted_mid_test_restores_both_hosts_and_completes_it(
    cabled_pair: GuestPool, cabled_inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """SIGINT to ansible-playbook's process group (a user's Ctrl-C) while the sender of a
    remote test runs: the run ends with no record of the test, its receiver left on guest1.
    The same command again removes what the first left on both hosts before its first test
    and completes the test: every packet counted, both hosts clean."""
    sender, receiver = cabled_pair.guests
    tmp = tmp_path_factory.mktemp("remote-sigint")
    results = tmp / "results"
    options = {key: value for key, value in TESTSET.items() if key != "label"}
    extravars = extravars_for_testset("linux-bridge", ["remote-1vs1.yml"], results,
                                  **{**options, "duration": 30})  # fmt: skip
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(cabled_inventory),
            "testset.yml", "-e", json.dumps(extravars)]  # fmt: skip
    log = tmp / "interrupted.log"
    with log.open("w") as out:
        # A session of its own: the signal reaches ansible-playbook and its workers, as a
        # terminal's Ctrl-C does, and nothing else.
        playbook = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
                                    start_new_session=True)  # fmt: skip
        try:
            wait_for_senders(sender, lambda: playbook.poll() is None)
            assert playbook.poll() is None, log.read_text()[-3000:]
            interrupted_at = time.monotonic()
            os.killpg(playbook.pid, signal.SIGINT)
            rc = playbook.wait(timeout=300)
        finally:
            if playbook.poll() is None:
                os.killpg(playbook.pid, signal.SIGKILL)
                playbook.wait()
    TIMINGS["remote: from SIGINT to ansible-playbook's end (s)"] = round(
        time.monotonic() - interrupted_at, 1)
    assert rc != 0, log.read_text()[-3000:]
    assert not list(results.rglob("test.json"))
    assert "icp1" in receiver.ssh("lxc-ls -1").stdout.split(), "guest1's receiver is gone"

    rerun = run_testset(tmp / "rerun", cabled_inventory, "linux-bridge", ["remote-1vs1.yml"],
                        results, **{**TESTSET, "duration": 30})  # fmt: skip
    assert rerun.rc == 0, rerun.failure_messages() or rerun.stdout[-8000:]
    removed = {e["event_data"]["host"]: e["event_data"]["res"].get("removed", [])
               for e in rerun.events if e.get("event") == "runner_on_ok"
               and e["event_data"].get("task") == "Remove icperf's containers"}  # fmt: skip
    # The first thing the rerun did on guest1: its first test's receiver went with the rest.
    assert "icp1" in removed.get("guest1", []), removed
    TIMINGS["remote linux-bridge 1vs1, controller interrupted then rerun"] = json.dumps(
        {**check_across(records(results)["remote"], cabled_pair.guests), "removed first": removed})
    for guest in cabled_pair.guests:
        assert host_clean(guest) == "", guest.name


def test_the_receiving_host_dies_mid_test(
    cabled_pair: GuestPool, cabled_inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """guest1 (the receivers' host) is killed while the first of two remote tests sends: that
    test is recorded failed naming guest1, guest0 is restored, the second test is not run and
    the run says so, naming the host. With guest1 back (a fresh disk: provisioned again by
    the run), the same command completes what is missing: both tests."""
    sender, receiver = cabled_pair.guests
    tmp = tmp_path_factory.mktemp("remote-dies")
    results = tmp / "results"
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["run"] = run_testset(tmp, cabled_inventory, "linux-bridge", ["remote-1vs1.yml"],
                                     results, **{**TESTSET, "duration": 30,
                                                 "pkt_sizes": [64, 128]})  # fmt: skip

    thread = threading.Thread(target=run)
    thread.start()
    wait_for_senders(sender, thread.is_alive)
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
    back = lab_inventory(cabled_pair, tmp / "inventory-back.yml")
    rerun = run_testset(tmp / "rerun", back, "linux-bridge", ["remote-1vs1.yml"], results,
                        **{**TESTSET, "duration": 30, "pkt_sizes": [64, 128]})  # fmt: skip
    assert rerun.rc == 0, rerun.failure_messages() or rerun.stdout[-8000:]
    for size in (64, 128):
        TIMINGS[f"remote: after guest1 came back, P{size}"] = json.dumps(
            check_across(records(results, size)["remote"], cabled_pair.guests))
    for guest in cabled_pair.guests:
        assert host_clean(guest) == "", guest.name
