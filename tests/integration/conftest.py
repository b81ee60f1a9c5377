"""Fixtures of the integration tests: playbooks driven through ansible-runner on this host.

The tests run the real playbooks against inventories/local with the repository's
ansible.cfg, start real LXC containers on a real linux bridge, and check the results
tree and the host afterwards. Everything they create is named with the prefix ``icpl``
(containers icpl-*, bridge icplbr0, subnet 10.0.77.0/24).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .records import read_records, summary  # noqa: F401 (the tests import them from here)

REPO = Path(__file__).resolve().parents[2]
LABS = Path(__file__).resolve().parent / "labs"
BRIDGE = "icplbr0"
PREFIX = "icpl"
STATE_DIR = Path("/var/lib/icperf")
STATE_FILES = ("linux_bridge.sysctl.json", "host_tuning.json")
BRIDGE_SYSCTLS = (
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/bridge/bridge-nf-call-arptables",
)
# Fake cpufreq tree (this VM has none): the role's logic runs on it for real.
FAKE_SYSFS = {
    "cpu0/cpufreq/scaling_governor": "powersave",
    "cpu1/cpufreq/scaling_governor": "schedutil",
    "intel_pstate/no_turbo": "0",
    "cpufreq/boost": "1",
}

# ansible-runner starts ansible-playbook from PATH: use this interpreter's environment.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: starts LXC containers and creates a bridge"
    for tool in ("lxc-start", "ip", "ansible-playbook"):
        if shutil.which(tool) is None:
            return f"needs {tool} (run scripts/setup.sh)"
    return None


SKIP_REASON = _skip_reason()
# Module marks of every test that drives a playbook on this host.
HOST_TEST_MARKS = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


@dataclass
class PlaybookRun:
    """Outcome of one ansible-runner run: return code, events and standard output."""

    rc: int
    status: str
    events: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""

    def failures(self) -> list[dict[str, Any]]:
        kinds = ("runner_on_failed", "runner_item_on_failed")
        return [e for e in self.events if e.get("event") in kinds]

    def plays(self) -> list[str]:
        return [
            e["event_data"].get("play", "")
            for e in self.events
            if e.get("event") == "playbook_on_play_start"
        ]

    def task_names(self) -> list[str]:
        return [
            e["event_data"].get("task", "")
            for e in self.events
            if e.get("event") == "playbook_on_task_start"
        ]


def _runner_kwargs(tmp: Path, playbook: str, extravars: dict[str, Any]) -> dict[str, Any]:
    data_dir = tmp / "runner"
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "private_data_dir": str(data_dir),
        "project_dir": str(REPO),
        "playbook": playbook,
        "inventory": str(REPO / "inventories" / "local" / "hosts.yml"),
        "extravars": extravars,
        "envvars": {"ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        "quiet": True,
        "timeout": 900,
    }


def run_playbook(
    tmp: Path,
    playbook: str,
    extravars: dict[str, Any],
    cmdline: str | None = None,
    inventory: Path | None = None,
) -> PlaybookRun:
    """Run ``playbook`` (relative to the repository root) to completion.

    ``inventory``: another than inventories/local (this machine as the one lab host).
    """
    import ansible_runner

    kwargs = _runner_kwargs(tmp, playbook, extravars)
    if cmdline:
        kwargs["cmdline"] = cmdline
    if inventory is not None:
        kwargs["inventory"] = str(inventory)
    runner = ansible_runner.run(**kwargs)
    return PlaybookRun(
        rc=runner.rc,
        status=runner.status,
        events=list(runner.events),
        stdout=runner.stdout.read(),
    )


def run_playbook_until(
    tmp: Path,
    playbook: str,
    extravars: dict[str, Any],
    stop: Callable[[], bool],
    inventory: Path | None = None,
) -> PlaybookRun:
    """Run ``playbook`` and kill it as soon as ``stop()`` returns true."""
    import ansible_runner

    kwargs = _runner_kwargs(tmp, playbook, extravars)
    if inventory is not None:
        kwargs["inventory"] = str(inventory)
    thread, runner = ansible_runner.run_async(cancel_callback=stop, **kwargs)
    thread.join(timeout=900)
    return PlaybookRun(
        rc=runner.rc, status=runner.status, events=list(runner.events), stdout=runner.stdout.read()
    )


def start_playbook(tmp: Path, playbook: str, extravars: dict[str, Any]) -> tuple[Any, Any]:
    """Start ``playbook`` in the background; returns (thread, runner)."""
    import ansible_runner

    return ansible_runner.run_async(**_runner_kwargs(tmp, playbook, extravars))


def finished(thread: Any, runner: Any) -> PlaybookRun:
    thread.join(timeout=900)
    return PlaybookRun(
        rc=runner.rc, status=runner.status, events=list(runner.events), stdout=runner.stdout.read()
    )


def icpl_containers() -> list[str]:
    """Containers defined on this host whose name has the tests' prefix."""
    out = subprocess.run(["lxc-ls", "-1"], capture_output=True, text=True, check=True).stdout
    return [name for name in out.split() if name.startswith(PREFIX)]


def container_state(name: str) -> str:
    result = subprocess.run(["lxc-info", "-n", name, "-sH"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    return [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]


def icpl_links() -> list[str]:
    return [name for name in links() if name == BRIDGE or name.startswith("icpv-icpl")]


def sysctls() -> dict[str, str]:
    values = {}
    for key in BRIDGE_SYSCTLS:
        path = Path("/proc/sys") / key
        if path.exists():
            values[key] = path.read_text().strip()
    return values


def state_files() -> dict[str, float]:
    """icperf's state files and their modification times (absent when restored)."""
    found = {}
    for name in STATE_FILES:
        path = STATE_DIR / name
        if path.exists():
            found[name] = path.stat().st_mtime
    return found


def host_state() -> dict[str, Any]:
    """What a run may change on the host: containers, links, sysctls, state files."""
    return {
        "containers": sorted(icpl_containers()),
        "links": sorted(icpl_links()),
        "sysctls": sysctls(),
        "state_files": state_files(),
        "run_dirs": sorted(path.name for path in (STATE_DIR / "run").glob(f"{PREFIX}*")),
    }


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _force_cleanup() -> None:
    """Remove whatever a failed test left, so the next test starts clean."""
    for name in icpl_containers():
        subprocess.run(["lxc-stop", "-n", name, "-k"], capture_output=True)
        shutil.rmtree(Path("/var/lib/lxc") / name, ignore_errors=True)
    for path in (STATE_DIR / "run").glob(f"{PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
    if BRIDGE in links():
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


@pytest.fixture
def clean_host() -> Iterator[dict[str, Any]]:
    """The host's state before the test; afterwards, anything left is removed."""
    _force_cleanup()
    before = host_state()
    yield before
    _force_cleanup()


# Hugepages and DPDK's runtime state are host-wide: tests that run DPDK take this lock
# (test_dpdk_switches.py with a timeout of its own) rather than run beside each other.
DPDK_TESTS_LOCK = Path("/run/lock/icperf-test-icpd.lock")


@pytest.fixture
def dpdk_host_lock() -> Iterator[None]:
    DPDK_TESTS_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with DPDK_TESTS_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> None:
    """icperf built and installed, LXC and the rootfs set up (once per session)."""
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    run = run_playbook(
        tmp_path_factory.mktemp("provision"), "provision.yml", {"vswitches": "linux-bridge"}
    )
    assert run.rc == 0, run.stdout[-3000:]


@pytest.fixture
def fake_sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "sysfs-cpu"
    for relative, value in FAKE_SYSFS.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    return root


def read_fake_sysfs(root: Path) -> dict[str, str]:
    return {relative: (root / relative).read_text().strip() for relative in FAKE_SYSFS}


def base_vars(tmp: Path, **overrides: Any) -> dict[str, Any]:
    """Extra vars of a short test on the tests' bridge, results under ``tmp``."""
    extravars: dict[str, Any] = {
        "vswitch": "linux-bridge",
        "labs": [str(LABS / "icpl-pair.yml")],
        "pkt_sizes": 64,
        "bursts": 32,
        "rates": 20000,
        "duration": 3,
        "results_dir": str(tmp / "results"),
        "vswitch_linux_bridge_name": BRIDGE,
    }
    extravars.update(overrides)
    return extravars
