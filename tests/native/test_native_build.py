"""The Makefile's other targets: a static binary for busybox rootfs, and install."""

from __future__ import annotations

import subprocess
from pathlib import Path

from icperf_run import NATIVE


def elf_has_interpreter(path: Path) -> bool:
    """True when the ELF file names a dynamic loader (PT_INTERP), i.e. is not static."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2, "64-bit ELF expected"
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    for i in range(phnum):
        p_type = int.from_bytes(data[phoff + i * phentsize : phoff + i * phentsize + 4], "little")
        if p_type == 3:  # PT_INTERP
            return True
    return False


def test_static_binary_runs_without_loader(icperf: Path) -> None:
    proc = subprocess.run(
        ["make", "-C", str(NATIVE), "static"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    static = NATIVE / "build" / "icperf-static"
    assert elf_has_interpreter(icperf)
    assert not elf_has_interpreter(static)
    out = subprocess.run(
        [str(static), "selftest-hist"], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0 and "all ok" in out.stdout


def test_install_into_destdir(icperf: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "-C", str(NATIVE), "install", f"DESTDIR={tmp_path}", "PREFIX=/usr/local"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = tmp_path / "usr/local/bin/icperf"
    assert installed.is_file() and installed.stat().st_mode & 0o111
    assert installed.read_bytes() == icperf.read_bytes()
