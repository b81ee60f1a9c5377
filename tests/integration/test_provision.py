"""Provisioning builds the shared rootfs with icperf inside, and a second run changes nothing."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

from .conftest import HOST_TEST_MARKS, run_playbook

pytestmark = HOST_TEST_MARKS

ROOTFS = Path("/var/lib/icperf/rootfs")


def test_provision_builds_the_rootfs_and_is_idempotent(tmp_path: Path, provisioned: None) -> None:
    run = run_playbook(tmp_path, "provision.yml", {"vswitches": "linux-bridge"})

    assert run.rc == 0, run.stdout[-3000:]
    changed = [
        e["event_data"].get("task", "")
        for e in run.events
        if e.get("event") in ("runner_on_ok", "runner_item_on_ok")
        and e["event_data"].get("res", {}).get("changed")
    ]
    assert changed == [], changed
    # One rootfs, with the static icperf the native role installed and the container init.
    icperf = ROOTFS / "usr/local/bin/icperf"
    assert filecmp.cmp(icperf, "/usr/local/lib/icperf/icperf-static", shallow=False)
    assert (ROOTFS / "sbin/icperf-run").exists()
    assert (ROOTFS / "bin/busybox").exists() and (ROOTFS / "bin/sh").is_symlink()
    # Static: the rootfs has no C library for it.
    ldd = subprocess.run(["ldd", str(icperf)], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr
    usage = subprocess.run([str(icperf), "--help"], capture_output=True, text=True)
    assert "send" in usage.stdout + usage.stderr
