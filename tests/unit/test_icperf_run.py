"""The containers' init script, run for real as PID 1 of a PID namespace (as in LXC)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "lxc" / "files" / "icperf-run"
BUSYBOX = shutil.which("busybox")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or BUSYBOX is None,
    reason="needs root, unshare and busybox (a PID namespace with busybox sh as PID 1)",
)


def start(tmp_path: Path, argv: list[str], prime: bool = False) -> subprocess.Popen[bytes]:
    base = tmp_path / "c.send"
    (tmp_path / "c.send.argv").write_text("\n".join(argv) + "\n", encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    # The priming ping waits up to 2 s for an answer; this one always waits.
    (bin_dir / "ping").write_text("#!/bin/sh\nsleep 2\n", encoding="utf-8")
    (bin_dir / "ping").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    if prime:
        env["ICPERF_PRIME_PEER"] = "10.0.3.11"
    return subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", str(BUSYBOX), "sh", str(SCRIPT),
         str(base)],
        env=env, start_new_session=True,
    )  # fmt: skip


def pid_one(unshare: subprocess.Popen[bytes]) -> int:
    """Host PID of the namespace's PID 1 (unshare's only child)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        children = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children")
        text = children.read_text(encoding="utf-8").split() if children.exists() else []
        if text:
            return int(text[0])
        time.sleep(0.02)
    raise AssertionError("the namespace's init did not start")


def wait_for_child(pid: int, program: str) -> None:
    """Until ``pid`` has a child whose command is ``program`` (by its base name)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        for child in children.read_text(encoding="utf-8").split() if children.exists() else []:
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if os.path.basename(argv[0]) == program.encode():
                return
        time.sleep(0.01)
    raise AssertionError(f"{pid} never ran {program}")


@needs_root
def test_arguments_reach_the_applet_exactly(tmp_path: Path) -> None:
    args = ["a b", "'single'", '"double"', "$HOME", "back\\slash", "  padded  "]
    proc = start(tmp_path, ["/bin/sh", "-c", 'for a; do echo "[$a]"; done', "sh", *args])
    assert proc.wait(timeout=20) == 0
    out = (tmp_path / "c.send.out").read_text(encoding="utf-8").splitlines()
    assert out == [f"[{arg}]" for arg in args]
    assert (tmp_path / "c.send.rc").read_text(encoding="utf-8").strip() == "0"


@needs_root
def test_sigterm_while_the_applet_runs_is_passed_on(tmp_path: Path) -> None:
    applet = "trap 'echo summary; exit 0' TERM; echo start; while :; do sleep 0.1; done"
    proc = start(tmp_path, ["/bin/sh", "-c", applet])
    init = pid_one(proc)
    out = tmp_path / "c.send.out"
    deadline = time.monotonic() + 10
    while "start" not in (out.read_text(encoding="utf-8") if out.exists() else ""):
        assert time.monotonic() < deadline, "the applet never started"
        time.sleep(0.05)
    os.kill(init, signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert out.read_text(encoding="utf-8").split() == ["start", "summary"]
    assert (tmp_path / "c.send.rc").read_text(encoding="utf-8").strip() == "0"


@needs_root
def test_sigterm_during_the_priming_ping_is_not_lost(tmp_path: Path) -> None:
    # As PID 1 a shell ignores signals it has no trap for: a SIGTERM before the trap was
    # installed left the applet (here 30 s long) running until lxc-stop killed it.
    proc = start(tmp_path, ["/bin/sleep", "30"], prime=True)
    init = pid_one(proc)
    # Inside the 2 s priming ping (a loaded machine may take longer than that to get there).
    wait_for_child(init, "ping")
    os.kill(init, signal.SIGTERM)
    started = time.monotonic()
    try:
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - started < 5
    assert (tmp_path / "c.send.rc").read_text(encoding="utf-8").strip() == "143"
    assert not (tmp_path / "c.send.out").exists()
    assert "stopped before the applet started" in (tmp_path / "c.send.err").read_text(
        encoding="utf-8"
    )
