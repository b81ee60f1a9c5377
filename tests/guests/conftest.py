"""Fixtures of the system tier: QEMU guest hosts provisioned through ansible-runner.

The tests here boot Debian 12 guests (tests/guests/harness.py) and drive the collection's
roles over SSH against them, reboots through the guests' own GRUB included. They take
minutes, so they run only when asked: ``make system-test`` (ICPERF_SYSTEM_TESTS=1).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .harness import REPO, Guest, GuestPool
from .remote import lab_inventory

# ansible-runner starts ansible-playbook from PATH: use this interpreter's environment.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

# What the session measured, printed at its end (and written down in docs/guests.md).
TIMINGS: dict[str, Any] = {}

# The lab's kernel command line, as the kernel_cmdline tests put it on the guest; the vfio
# and reprovision tests need the IOMMU it turns on and keep the same values (a
# reprovisioning re-applies what was provisioned).
CMDLINE_LAB = {
    "kernel_cmdline_hugepages_1g": 1,
    "kernel_cmdline_hugepages_2m": 64,
    "kernel_cmdline_iommu": "intel",
}
CMDLINE_ARGS = ["hugepagesz=1G", "hugepages=1", "hugepagesz=2M", "hugepages=64",
                "intel_iommu=on", "iommu=pt"]  # fmt: skip
CMDLINE_PLAYBOOK = "tests/guests/playbooks/kernel_cmdline.yml"
# Emulated igb NICs of the guest, wired to each other (harness.Guest.lab_nic_args).
LAB_NICS = 2
# The tests share one guest and build on each other's state: files run in this order.
FILE_ORDER = (
    "test_system_guest.py",
    "test_system_run_test.py",
    "test_system_kernel_cmdline.py",
    "test_system_vfio.py",
    "test_system_reprovision.py",
)


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this directory's tests in FILE_ORDER; other tests keep their places."""
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if item.path.parent == here]

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return FILE_ORDER.index(name) if name in FILE_ORDER else len(FILE_ORDER)

    ordered = sorted((items[i] for i in slots), key=rank)
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


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

    def results(self, task: str) -> list[dict[str, Any]]:
        """What ``task`` returned on each host where it ran (not skipped, not failed)."""
        return [
            e["event_data"].get("res", {})
            for e in self.events
            if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == task
        ]

    def ran(self, task: str) -> bool:
        """Whether ``task`` ran on a host (not skipped)."""
        return bool(self.results(task))


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


def extravars_for_testset(
    vswitch: str,
    labs: list[str],
    results: Path,
    *,
    lab_dir: Path = REPO / "labs",
    pkt_sizes: list[int] | None = None,
    rates: list[int] | None = None,
    bursts: list[int] | None = None,
    duration: int = 6,
) -> dict[str, Any]:
    """``testset.yml``'s extra vars for the labs ``labs`` (file names under ``lab_dir``), its
    results in ``results``. The defaults are the system tier's small test: 64 B frames,
    bursts of 32, 2000 pps per sender, 6 s."""
    return {
        "vswitch": vswitch,
        "labs": [str(lab_dir / lab) for lab in labs],
        "pkt_sizes": pkt_sizes or [64],
        "bursts": bursts or [32],
        "rates": rates or [2000],
        "duration": duration,
        "results_dir": str(results),
    }


def run_testset(
    tmp: Path,
    inventory: Path,
    vswitch: str,
    labs: list[str],
    results: Path,
    *,
    label: str = "",
    **options: Any,
) -> PlaybookRun:
    """``testset.yml -e vswitch=VSWITCH`` as a user runs it (options: those of
    extravars_for_testset). Its time goes into the summary, under ``label`` when given."""
    extravars = extravars_for_testset(vswitch, labs, results, **options)
    run = run_playbook(tmp, inventory, "testset.yml", extravars)
    key = f"testset.yml -e vswitch={vswitch} (s)"
    TIMINGS.setdefault(f"{label}: {key}" if label else key, []).append(run.seconds)
    return run


@contextmanager
def own_pool(label: str, workdir: Path, count: int = 1, **options: Any) -> Iterator[GuestPool]:
    """Guests booted for one test module alone; their boot and session times go into the
    summary under `label`."""
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    start = time.monotonic()
    with GuestPool(count, workdir=workdir, **options) as pool:
        TIMINGS[f"{label}: boot to SSH (s)"] = pool.timings["boot_seconds"]
        yield pool
    TIMINGS[f"{label}: session (s)"] = round(time.monotonic() - start, 1)


@pytest.fixture(scope="module")
def cabled_pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GuestPool]:
    """Two guests of the test module's own (one vCPU each) whose lab NIC 0 are cabled back
    to back (harness --wire); named after the module in the summary."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_system_")
    with own_pool(f"{name} pair", tmp_path_factory.mktemp(name), 2, wire=True) as booted:
        yield booted


@pytest.fixture(scope="module")
def cabled_inventory(cabled_pair: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cabled pair's inventory (both hosts with icperf_wire_nic), no core reserved."""
    return lab_inventory(cabled_pair, tmp_path_factory.mktemp("remote-inventory") / "inventory.yml")


@pytest.fixture(scope="session")
def guest_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestPool]:
    """One guest host for the session (1 vCPU, 4 GiB: room for a 1 GB page)."""
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    session_start = time.monotonic()
    with GuestPool(1, workdir=tmp_path_factory.mktemp("guests"), lab_nics=LAB_NICS) as pool:
        TIMINGS["accelerator"] = f"{pool.accel} ({pool.accel_why})"
        TIMINGS["image"] = f"{pool.image.id if pool.image else '?'}"
        TIMINGS["image build or reuse (s)"] = round(pool.timings["image_seconds"], 1)
        TIMINGS["boot to SSH (s)"] = pool.timings["boot_seconds"]
        yield pool
    TIMINGS["guest session (s)"] = round(time.monotonic() - session_start, 1)


@pytest.fixture(scope="module")
def nics(guest_pool: GuestPool) -> list[str]:
    """PCI addresses of the guest's lab NICs."""
    guest = guest_pool.guests[0]
    return [guest.lab_nic_address(nic) for nic in range(guest.lab_nics)]


def assert_refused(
    tmp: Path,
    pool: GuestPool,
    playbook: str,
    extravars: dict[str, Any],
    message: str,
    host_state: Callable[[], Any],
    timing: str,
) -> PlaybookRun:
    """The playbook fails with ``message`` (naming the variable) and ``host_state()`` is
    as before: bad input refused before anything on the host changed."""
    before = host_state()

    run = run_playbook(tmp, pool.inventory, playbook, extravars)

    assert run.rc != 0, run.stdout[-4000:]
    TIMINGS.setdefault(timing, []).append(run.seconds)
    messages = run.failure_messages()
    assert any(message in text for text in messages), messages
    assert host_state() == before
    return run


@pytest.fixture(scope="module")
def iommu_on(guest_pool: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    """The guest booted with the lab's command line (IOMMU on); a no-op after those tests."""
    tmp = tmp_path_factory.mktemp("iommu")
    run = run_playbook(tmp, guest_pool.inventory, CMDLINE_PLAYBOOK, CMDLINE_LAB)
    assert run.rc == 0, run.stdout[-4000:]
    guest = guest_pool.guests[0]
    assert guest.read("/proc/cmdline").split()[-len(CMDLINE_ARGS) :] == CMDLINE_ARGS
    return guest


def parse_testpmd(output: str) -> dict[int, dict[str, int]]:
    """testpmd's closing 'Forward statistics for port N' blocks: {port: {RX-packets: n, ...}}."""
    ports: dict[int, dict[str, int]] = {}
    port = None
    for line in output.splitlines():
        match = re.search(r"Forward statistics for port (\d+)", line)
        if match:
            port = int(match.group(1))
            ports[port] = {}
            continue
        if port is not None:
            for key, value in re.findall(r"([A-Z]{2}-[a-z]+):\s+(\d+)", line):
                ports[port][key] = int(value)
            if line.strip().startswith("-" * 10):
                port = None
    return ports


def run_testpmd(guest: Guest, nics: list[str], seconds: int = 10) -> tuple[str, dict[int, Any]]:
    """dpdk-testpmd on the NICs for ``seconds``: io forwarding, a first burst sent on each.

    The NICs are wired to each other, so the burst circulates: every port receives and
    sends, through vfio-pci and the IOMMU. Two lcores share the guest's one CPU.
    """
    allow = " ".join(f"-a {nic}" for nic in nics)
    command = (
        f"timeout -s INT {seconds} dpdk-testpmd --lcores 0@0,1@0 -n 1 {allow} "
        "--file-prefix icperf-test -m 64 -- --forward-mode=io --tx-first --stats-period 5 "
        "--nb-cores 1 --rxd 256 --txd 256 --total-num-mbufs 2048 2>&1"
    )
    result = guest.ssh(command, check=False, timeout=seconds + 120)
    return result.stdout, parse_testpmd(result.stdout)
