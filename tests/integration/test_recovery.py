"""Interrupted sweeps resume, and a generator killed mid-test leaves a clean host."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from .conftest import (
    HOST_TEST_MARKS,
    STATE_DIR,
    base_vars,
    container_state,
    finished,
    host_state,
    read_fake_sysfs,
    run_playbook,
    run_playbook_until,
    start_playbook,
    wait_for,
)

pytestmark = HOST_TEST_MARKS

LXC_PATH = Path("/var/lib/lxc")

RESUME_PATHS = [
    "icpl-pair/d3/32/linux-bridge/64/20000",
    "icpl-pair/d3/32/linux-bridge/128/20000",
    "icpl-pair/d3/32/linux-bridge/256/20000",
]


def _status(folder: Path) -> str | None:
    record = folder / "test.json"
    if not record.exists():
        return None
    return json.loads(record.read_text())["status"]


def _sender_runs() -> bool:
    pidof = ["lxc-attach", "-n", "icpl-s0", "--", "pidof", "icperf"]
    return subprocess.run(pidof, capture_output=True).returncode == 0


def test_interrupted_sweep_resumes_where_it_stopped(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None
) -> None:
    extravars = base_vars(tmp_path, pkt_sizes="64 128 256", provision=False)
    results = tmp_path / "results"
    first = results / RESUME_PATHS[0]

    killed = run_playbook_until(
        tmp_path / "first", "testset.yml", extravars, lambda: _status(first) == "ok"
    )

    assert killed.status == "canceled", killed.stdout[-3000:]
    assert _status(first) == "ok"
    assert _status(results / RESUME_PATHS[2]) is None
    first_record = (first / "test.json").read_text()

    resumed = run_playbook(tmp_path / "second", "testset.yml", extravars)

    assert resumed.rc == 0, resumed.stdout[-4000:]
    assert "icperf: 3 tests (1 already done)" in resumed.stdout
    assert f"skipping test 1/3 {RESUME_PATHS[0]}: already recorded ok" in resumed.stdout
    started = [line for line in resumed.stdout.splitlines() if line.startswith("icperf: test ")]
    assert [line.split()[3] for line in started] == RESUME_PATHS[1:]
    # The first test was not run again: its record is untouched.
    assert (first / "test.json").read_text() == first_record
    for path in RESUME_PATHS:
        assert _status(results / path) == "ok", path
    # Whatever the killed run left (containers, bridge, sysctls) was cleaned up.
    assert host_state() == clean_host


def test_killed_generator_fails_the_test_and_restores_the_host(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None, fake_sysfs: Path
) -> None:
    sysfs_before = read_fake_sysfs(fake_sysfs)
    extravars = base_vars(
        tmp_path, duration=8, provision=False, host_tuning_sysfs_cpu=str(fake_sysfs)
    )
    thread, runner = start_playbook(tmp_path, "testset.yml", extravars)

    wait_for(lambda: container_state("icpl-s0") == "RUNNING", 120, "the sender's container")
    wait_for(_sender_runs, 10, "the sender's applet")
    tuned = read_fake_sysfs(fake_sysfs)
    bridge_nf = Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip()
    configs = {name: (LXC_PATH / name / "config").read_text() for name in ("icpl-s0", "icpl-r0")}
    write_in_rootfs = subprocess.run(
        ["lxc-attach", "-n", "icpl-r0", "--", "touch", "/icpl-probe"], capture_output=True
    )
    subprocess.run(
        ["lxc-attach", "-n", "icpl-s0", "--", "sh", "-c", "kill -9 $(pidof icperf)"],
        check=True,
    )
    run = finished(thread, runner)

    # While the test ran, the host was tuned and the br_netfilter hook was off.
    assert tuned == {
        "cpu0/cpufreq/scaling_governor": "performance",
        "cpu1/cpufreq/scaling_governor": "performance",
        "intel_pstate/no_turbo": "1",
        "cpufreq/boost": "0",
    }
    assert bridge_nf == "0"
    # Both containers mounted the one shared rootfs, read-only.
    for config in configs.values():
        assert "lxc.rootfs.path = dir:/var/lib/icperf/rootfs\n" in config
        assert "lxc.rootfs.options = ro\n" in config
    assert write_in_rootfs.returncode != 0
    assert b"Read-only file system" in write_in_rootfs.stderr
    assert not Path("/var/lib/icperf/rootfs/icpl-probe").exists()
    # The sweep reports the failure...
    assert run.rc != 0
    assert "1 of 1 tests failed" in run.stdout
    folder = tmp_path / "results/icpl-pair/d8/32/linux-bridge/64/20000"
    record = json.loads((folder / "test.json").read_text())
    assert record["status"] == "failed"
    assert "icpl-s0.send" in record["reason"]
    assert "killed by signal 9" in record["reason"]
    # ...keeps the logs it has...
    assert (folder / "icpl-r0.recv.jsonl").exists()
    # ...and leaves the host as it found it.
    assert read_fake_sysfs(fake_sysfs) == sysfs_before
    assert host_state() == clean_host
    assert not (STATE_DIR / "host_tuning.json").exists()
