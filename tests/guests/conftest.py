"""Fixtures of the system tier: QEMU guest hosts provisioned through ansible-runner.

The tests here boot Debian 12 guests (tests/guests/harness.py) and drive the collection's
roles over SSH against them, reboots through the guests' own GRUB included. They take
minutes, so they run only when asked: ``make system-test`` (ICPERF_SYSTEM_TESTS=1).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .harness import REPO, GuestPool

# ansible-runner starts ansible-playbook from PATH: use this interpreter's environment.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

# What the session measured, printed at its end (and written down in docs/guests.md).
TIMINGS: dict[str, Any] = {}


def _skip_reason() -> str | None:
    if os.environ.get("ICPERF_SYSTEM_TESTS") != "1":
        return (
            "system tier: boots QEMU guest hosts for minutes; run `make system-test` "
            "(or set ICPERF_SYSTEM_TESTS=1)"
        )
    if os.geteuid() != 0:
        return "system tier needs root (builds the guest image with debootstrap)"
    for tool in ("qemu-system-x86_64", "qemu-img", "ssh", "debootstrap", "ansible-playbook"):
        if shutil.which(tool) is None:
            return f"system tier needs {tool} (run scripts/guest-deps.sh and scripts/setup.sh)"
    return None


SKIP_REASON = _skip_reason()
SYSTEM_MARKS = [
    pytest.mark.system,
    pytest.mark.slow,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "system: boots QEMU guest hosts (make system-test, ICPERF_SYSTEM_TESTS=1)"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("guest hosts")
    for key, value in TIMINGS.items():
        terminalreporter.write_line(f"{key}: {value}")


@dataclass
class PlaybookRun:
    """Outcome of one ansible-runner run against the guests."""

    rc: int
    status: str
    seconds: float
    stats: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""

    def changed(self) -> int:
        return sum(self.stats.get("changed", {}).values())

    def failure_messages(self) -> list[str]:
        kinds = ("runner_on_failed", "runner_item_on_failed")
        return [
            str(e["event_data"].get("res", {}).get("msg", ""))
            for e in self.events
            if e.get("event") in kinds
        ]

    def ran(self, task: str) -> bool:
        """Whether ``task`` ran on a host (not skipped)."""
        return any(
            e.get("event") == "runner_on_ok" and e["event_data"].get("task") == task
            for e in self.events
        )


def run_playbook(
    tmp: Path, inventory: Path, playbook: str, extravars: dict[str, Any]
) -> PlaybookRun:
    """Run ``playbook`` (relative to the repository root) against ``inventory``."""
    import ansible_runner

    data_dir = tmp / f"runner-{time.monotonic_ns()}"
    data_dir.mkdir(parents=True)
    start = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(data_dir),
        project_dir=str(REPO),
        playbook=playbook,
        inventory=str(inventory),
        extravars=extravars,
        envvars={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        quiet=True,
        timeout=1800,
    )
    return PlaybookRun(
        rc=runner.rc,
        status=runner.status,
        seconds=round(time.monotonic() - start, 1),
        stats=runner.stats or {},
        events=list(runner.events),
        stdout=runner.stdout.read(),
    )


@pytest.fixture(scope="session")
def guest_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestPool]:
    """One guest host for the session (1 vCPU, 4 GiB: room for a 1 GB page)."""
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    session_start = time.monotonic()
    with GuestPool(1, workdir=tmp_path_factory.mktemp("guests")) as pool:
        TIMINGS["accelerator"] = f"{pool.accel} ({pool.accel_why})"
        TIMINGS["image"] = f"{pool.image.id if pool.image else '?'}"
        TIMINGS["image build or reuse (s)"] = round(pool.timings["image_seconds"], 1)
        TIMINGS["boot to SSH (s)"] = pool.timings["boot_seconds"]
        yield pool
    TIMINGS["guest session (s)"] = round(time.monotonic() - session_start, 1)
