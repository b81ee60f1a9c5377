"""DPDK switches end to end: dpdk- applets in LXC containers through testpmd and OVS-DPDK."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOST_TEST_MARKS, base_vars, host_state, run_playbook, summary

pytestmark = HOST_TEST_MARKS


def _hugepages() -> tuple[str, bool]:
    count = Path("/proc/sys/vm/nr_hugepages").read_text().strip()
    mounted = any(
        line.split()[1] == "/dev/hugepages"
        for line in Path("/proc/mounts").read_text().splitlines()
    )
    return count, mounted


SWITCH_BINARIES = {
    "basicfwd": "/usr/bin/dpdk-testpmd",
    "ovs": "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk",
}


@pytest.mark.parametrize("vswitch", ["basicfwd", "ovs"])
def test_dpdk_switch_between_containers(
    tmp_path: Path, clean_host: dict[str, Any], dpdk_host_lock: None, vswitch: str
) -> None:
    if not Path(SWITCH_BINARIES[vswitch]).exists():
        pytest.skip(f"needs {SWITCH_BINARIES[vswitch]} (scripts/setup.sh installs it)")
    hugepages_before = _hugepages()

    run = run_playbook(tmp_path, "testset.yml", base_vars(tmp_path, vswitch=vswitch))

    assert run.rc == 0, run.stdout[-4000:]
    folder = tmp_path / f"results/icpl-pair/c1-d3/32/{vswitch}/64/20000"
    record = json.loads((folder / "test.json").read_text())
    assert record["status"] == "ok", record["reason"]
    assert record["versions"][vswitch]
    commands = {app["app"]: app["command"] for app in record["apps"]}
    assert commands["send"][1] == "dpdk-send" and commands["recv"][1] == "dpdk-recv"
    sent = summary(folder / "icpl-s0.send.jsonl")
    received = summary(folder / "icpl-r0.recv.jsonl")
    assert sent["sent"] > 0
    assert received["rx"] == sent["sent"]
    assert received["lost"] == 0
    # The switch, the containers and the hugepages are gone; the host is as it was.
    assert host_state() == clean_host
    assert _hugepages() == hugepages_before
    assert not any(Path("/run/icperf/vhost").glob("icpl-*.sock"))


def _meminfo(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/meminfo")


@pytest.fixture
def hugetlbfs_mounted() -> Any:
    """/dev/hugepages mounted before the run, as systemd mounts it on most hosts: the run
    finds it and leaves it mounted, so nothing the run leaves in it goes with an unmount."""
    target = Path("/dev/hugepages")
    if _hugepages()[1]:
        pytest.skip("/dev/hugepages is mounted already")
    target.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "hugetlbfs", "nodev", str(target)], check=True)
    yield target
    subprocess.run(["umount", str(target)], check=False)


def test_page_files_go_with_the_containers_on_a_hugetlbfs_left_mounted(
    tmp_path: Path, clean_host: dict[str, Any], dpdk_host_lock: None, hugetlbfs_mounted: Path
) -> None:
    """The dpdk- applets' EAL keeps its page files after exit: with the mount staying, they
    would keep their pages allocated (surplus) once the run gives nr_hugepages back."""
    if not Path(SWITCH_BINARIES["ovs"]).exists():
        pytest.skip(f"needs {SWITCH_BINARIES['ovs']} (scripts/setup.sh installs it)")
    before = _hugepages()

    run = run_playbook(tmp_path, "testset.yml", base_vars(tmp_path, vswitch="ovs"))

    assert run.rc == 0, run.stdout[-4000:]
    record = json.loads(next((tmp_path / "results").rglob("test.json")).read_text())
    assert record["status"] == "ok", record["reason"]
    assert sorted(p.name for p in hugetlbfs_mounted.iterdir()) == []
    assert _hugepages() == before
    assert _meminfo("HugePages_Total") == int(before[0])
    assert _meminfo("HugePages_Surp") == 0
    assert host_state() == clean_host
