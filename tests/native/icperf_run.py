"""Runs icperf applets (inside network namespaces) and reads their records."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "native"
ICPERF = NATIVE / "build" / "icperf"
PROBE = Path(__file__).resolve().parent / "icperf_probe.py"

Record = dict[str, Any]


def in_ns(ns: str | None, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv] if ns else argv


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    lines: list[str] = field(default_factory=list)

    def records(self) -> list[Record]:
        return [json.loads(line) for line in self.lines]

    def of_type(self, kind: str) -> list[Record]:
        return [r for r in self.records() if r["type"] == kind]

    def summary(self) -> Record:
        found = self.of_type("summary")
        assert len(found) == 1, f"expected one summary record in:\n{self.stdout}\n{self.stderr}"
        return found[0]


class Applet:
    """One icperf process; stdout is read through the raw descriptor so that a partial read
    (the start record) and the rest never fight over a buffered file object."""

    def __init__(self, ns: str | None, args: list[str], binary: Path = ICPERF) -> None:
        self.argv = in_ns(ns, [str(binary), *args])
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._buf = b""
        self._eof = False

    def _read_some(self, timeout: float) -> None:
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if ready:
            chunk = os.read(self._fd, 1 << 16)
            if chunk:
                self._buf += chunk
            else:
                self._eof = True

    def output_so_far(self, settle: float = 0.05) -> str:
        self._read_some(settle)
        return self._buf.decode()

    def lines_so_far(self, settle: float = 0.05) -> list[str]:
        """Complete lines written so far."""
        text = self.output_so_far(settle)
        return text.split("\n")[:-1]

    def wait_received(self, count: int, timeout: float = 5.0) -> None:
        """Waits until a JSON recv/server has reported `count` packets in its `second`
        records, so a signal cannot cut off packets still on their way."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seconds = [json.loads(x) for x in self.lines_so_far(0.1)[1:]]
            if sum(r.get("rx", 0) for r in seconds if r.get("type") == "second") >= count:
                return

    def wait_started(self, timeout: float = 5.0) -> str:
        """Returns the start record's line once the applet has opened its transport."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf and not self._eof:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise TimeoutError(f"no start record from {self.argv}")
            self._read_some(left)
        if b"\n" not in self._buf:
            done = self.finish()
            raise RuntimeError(f"{self.argv} ended before starting: {done.stderr}")
        return self._buf.split(b"\n", 1)[0].decode()

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self, timeout: float = 15.0) -> Finished:
        deadline = time.monotonic() + timeout
        while not self._eof:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise TimeoutError(f"{self.argv} did not end within {timeout} s")
            self._read_some(left)
        try:
            rc = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        assert self.proc.stderr is not None
        err = self.proc.stderr.read().decode()
        self.proc.stdout.close()  # type: ignore[union-attr]
        self.proc.stderr.close()
        out = self._buf.decode()
        return Finished(rc, out, err, [line for line in out.split("\n") if line])


def run(ns: str | None, args: list[str], timeout: float = 15.0) -> Finished:
    return Applet(ns, args).finish(timeout)


def endpoints(here: Any, there: Any) -> list[str]:
    """LOCAL_IP LOCAL_MAC REMOTE_IP REMOTE_MAC for an applet on `here` talking to `there`."""
    return [here.ip, here.mac, there.ip, there.mac]


def probe(ns: str, args: list[str], timeout: float = 20.0) -> Any:
    """Runs icperf_probe.py in a namespace and returns its JSON answer."""
    import sys

    proc = subprocess.run(
        in_ns(ns, [sys.executable, str(PROBE), *args]),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"probe {args} failed: {proc.stderr}"
    return json.loads(proc.stdout)
