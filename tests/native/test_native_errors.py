"""Bad input: one line on stderr naming the flag and the value, nothing on stdout,
exit status 2 for usage errors and 1 for what only the run can find out."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# TEST-NET-1 (RFC 5737): valid, but never an address of this machine.
GOOD = ["10.77.0.1", "02:77:00:00:00:01", "10.77.0.2", "02:77:00:00:00:02"]
UNBINDABLE = ["192.0.2.1", "02:77:00:00:00:01", "10.77.0.2", "02:77:00:00:00:02"]

CASES = [
    # (id, argv after the binary, exit status, text the single stderr line must contain)
    ("no-applet", [], 2, "missing applet"),
    ("unknown-applet", ["sendx", *GOOD], 2, "sendx: unknown applet"),
    ("missing-addresses", ["send", "10.77.0.1"], 2, "expected LOCAL_IP LOCAL_MAC"),
    ("extra-argument", ["recv", *GOOD, "surplus"], 2, "surplus: unexpected argument"),
    ("short-ip", ["send", "10.77.0", *GOOD[1:]], 2, "LOCAL_IP 10.77.0:"),
    ("junk-ip", ["send", *GOOD[:2], "10.77.0.2x", GOOD[3]], 2, "REMOTE_IP 10.77.0.2x:"),
    (
        "bad-mac",
        ["send", GOOD[0], "02:77:00:00:00:0g", *GOOD[2:]],
        2,
        "LOCAL_MAC 02:77:00:00:00:0g:",
    ),
    ("short-mac", ["client", *GOOD[:3], "02:77:00:00:00"], 2, "REMOTE_MAC 02:77:00:00:00:"),
    ("size-small", ["send", *GOOD, "-p", "20"], 2, "-p 20: frame size"),
    ("size-large", ["send", *GOOD, "-p", "1501"], 2, "-p 1501: frame size"),
    ("size-junk", ["send", *GOOD, "-p", "64b"], 2, "-p 64b: frame size"),
    ("burst-zero", ["send", *GOOD, "-b", "0"], 2, "-b 0: burst"),
    ("burst-large", ["send", *GOOD, "-b", "1025"], 2, "-b 1025: burst"),
    ("rate-zero", ["send", *GOOD, "-r", "0"], 2, "-r 0: rate"),
    ("rate-negative", ["send", *GOOD, "-r", "-5"], 2, "-r -5: rate"),
    ("rate-junk", ["client", *GOOD, "-r", "12x"], 2, "-r 12x: rate"),
    ("rate-float", ["send", *GOOD, "-r", "1e6"], 2, "-r 1e6: rate"),
    ("duration-junk", ["recv", *GOOD, "-t", "2s"], 2, "-t 2s: duration"),
    ("port-zero", ["server", *GOOD, "--port", "0"], 2, "--port 0: port"),
    ("port-large", ["server", *GOOD, "--port", "65536"], 2, "--port 65536: port"),
    ("cpu-junk", ["send", *GOOD, "--cpu", "one"], 2, "--cpu one:"),
    ("clock-unknown", ["send", *GOOD, "--clock", "hpet"], 2, "--clock hpet:"),
    ("missing-value", ["send", *GOOD, "-r"], 2, "-r: missing value"),
    ("unknown-flag", ["send", *GOOD, "-x"], 2, "-x: unknown option"),
    ("unknown-long-flag", ["send", *GOOD, "--fast"], 2, "--fast: unknown option"),
    ("cpu-absent", ["send", *GOOD, "--cpu", "1023"], 1, "--cpu 1023:"),
    ("missing-iface", ["recv", *GOOD, "-R", "icpn-none0"], 1, "-R icpn-none0: no such interface"),
    ("bind-failure", ["recv", *UNBINDABLE], 1, "LOCAL_IP 192.0.2.1 --port 9000: cannot bind"),
]


def check_refusal(argv: list[str], status: int, text: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert proc.stdout == "", "nothing that could pass for a record"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("icperf: ") and text in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "status", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused(icperf: Path, args: list[str], status: int, text: str) -> None:
    check_refusal([str(icperf), *args], status, text)


def test_raw_socket_without_cap_net_raw_is_refused(icperf: Path) -> None:
    argv = [str(icperf), "recv", *GOOD, "-R", "lo"]
    if os.geteuid() == 0:
        # Root loses CAP_NET_RAW when it is not in the bounding set at exec.
        argv = ["setpriv", "--bounding-set=-net_raw", *argv]
    check_refusal(argv, 1, "-R lo: raw socket: Operation not permitted")


def test_applet_chosen_by_link_name(icperf: Path, tmp_path: Path) -> None:
    link = tmp_path / "send"
    link.symlink_to(icperf)
    check_refusal([str(link), *GOOD, "-p", "63"], 2, "-p 63: frame size")


@pytest.mark.parametrize("argv", [["--help"], ["send", "-h"], ["client", "--help"]])
def test_help_goes_to_stdout(icperf: Path, argv: list[str]) -> None:
    proc = subprocess.run(
        [str(icperf), *argv], capture_output=True, text=True, timeout=10, check=False
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert "LOCAL_IP LOCAL_MAC REMOTE_IP REMOTE_MAC" in proc.stdout
    assert "SIZE-42" in proc.stdout, "usage explains that -p is the frame size"


# Preloaded into an applet: calloc() fails for exactly FAIL_NMEMB elements, which only the
# transports' per-burst buffers ask for (-b FAIL_NMEMB), and at exit the process reads its
# standard input, which must still be the one it was started with.
FAIL_NMEMB = 1000
ALLOC_SHIM = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_calloc(size_t n, size_t size);

void *calloc(size_t n, size_t size)
{
	if (n == FAIL_NMEMB) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(n, size);
}

__attribute__((destructor)) static void read_stdin_at_exit(void)
{
	char buf[64];
	ssize_t got = read(0, buf, sizeof(buf) - 1);
	if (got < 0)
		dprintf(2, "shim: stdin unreadable: %m\n");
	else
		dprintf(2, "shim: stdin says %.*s\n", (int)got, buf);
}
"""


@pytest.fixture(scope="module")
def alloc_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shim")
    (folder / "shim.c").write_text(ALLOC_SHIM)
    lib = folder / "failcalloc.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", f"-DFAIL_NMEMB={FAIL_NMEMB}", "-o", str(lib), "shim.c"],
        cwd=folder,
        check=True,
    )
    return lib


@pytest.mark.parametrize("mode", ["udp", "raw"])
def test_allocation_failure_leaves_stdin_open(
    icperf: Path, alloc_shim: Path, tmp_path: Path, mode: str
) -> None:
    """A transport that cannot allocate its buffers closes only descriptors it opened."""
    # lo's own address (00:00:00:00:00:00) keeps the raw transport from warning.
    args = [GOOD[0], "00:00:00:00:00:00", *GOOD[2:], "-R", "lo"] if mode == "raw" else GOOD
    if mode == "raw" and os.geteuid() != 0:
        pytest.skip("a raw socket needs CAP_NET_RAW")
    stdin = tmp_path / "stdin"
    stdin.write_text("still-here")
    with stdin.open() as f:
        proc = subprocess.run(
            [str(icperf), "recv", *args, "-b", str(FAIL_NMEMB)],
            stdin=f,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={**os.environ, "LD_PRELOAD": str(alloc_shim)},
        )
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == f"icperf: -b {FAIL_NMEMB}: cannot allocate buffers", proc.stderr
    assert lines[1:] == ["shim: stdin says still-here"], proc.stderr
