"""Bad input to the AF_XDP transport (-X): one line on stderr naming -X and what is
missing, nothing on stdout, nothing left attached; and the build without the libraries."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from icperf_netns import Topology
from icperf_run import NATIVE, Applet, endpoints
from icperf_xdp import GOOD, require_xdp, topology, xdp_state

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def xdp_icperf(icperf: Path) -> Path:
    return require_xdp(icperf)


@pytest.fixture(scope="module")
def xdp_topo(xdp_icperf: Path) -> Iterator[Topology]:
    with topology() as topo:
        yield topo


def check_refusal(argv: list[str], status: int, text: str, env: dict | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False,
                          env=env)  # fmt: skip
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert proc.stdout == "", "nothing that could pass for a record"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("icperf: ") and text in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "status", "text"),
    [
        (["recv", *GOOD, "-X", "icpx-none0"], 1, "-X icpx-none0: no such interface"),
        (["send", *GOOD, "-X", "lo", "-R", "lo"], 2, "-R lo: -R and -X are two transports"),
        (["recv", *GOOD, "-R", "lo", "-X", "lo"], 2, "-X lo: -R and -X are two transports"),
        (["send", *GOOD, "-X", "a-name-too-long0"], 2, "-X a-name-too-long0: interface name"),
    ],
    ids=["missing-iface", "raw-then-xdp", "xdp-then-raw", "long-name"],
)
def test_bad_arguments(xdp_icperf: Path, args: list[str], status: int, text: str) -> None:
    check_refusal([str(xdp_icperf), *args], status, text)


def in_b(topo: Topology, binary: Path, applet: str, *extra: str) -> list[str]:
    return ["ip", "netns", "exec", topo.b.ns, str(binary), applet,
            *endpoints(topo.b, topo.a), "-X", "eth0", *extra]  # fmt: skip


def test_busy_queue_is_refused_and_its_owner_undisturbed(
    xdp_icperf: Path, xdp_topo: Topology
) -> None:
    topo = xdp_topo
    owner = Applet(topo.b.ns, ["recv", *endpoints(topo.b, topo.a), "--json", "-X", "eth0"])
    try:
        owner.wait_started()
        before = xdp_state(topo.b.ns, "eth0")
        check_refusal(in_b(topo, xdp_icperf, "server"), 1,
                      "-X eth0: queue 0 is busy: Device or resource busy (another AF_XDP "
                      "socket is bound to it)")  # fmt: skip
        assert xdp_state(topo.b.ns, "eth0") == before, "the owner's program stays"
        assert owner.proc.poll() is None
    finally:
        owner.kill()


def test_foreign_program_is_named_and_left_alone(xdp_icperf: Path, xdp_topo: Topology) -> None:
    """Another program on the interface (here icperf's own object, attached by ip in
    generic mode) is not replaced: the line says which it is and how to detach it."""
    topo = xdp_topo
    obj = NATIVE / "build" / "xdp_steer.bpf.o"
    link = ["ip", "-n", topo.b.ns, "link", "set", "dev", "eth0"]
    subprocess.run([*link, "xdpgeneric", "obj", str(obj), "sec", "xdp"], check=True,
                   capture_output=True)  # fmt: skip
    try:
        foreign = xdp_state(topo.b.ns, "eth0")
        assert foreign is not None
        check_refusal(in_b(topo, xdp_icperf, "recv"), 1,
                      f"-X eth0: another XDP program (id {foreign['prog']['id']}, generic "
                      "mode) is attached to the interface (detach it: ip link set dev eth0 "
                      "xdp off)")  # fmt: skip
        assert xdp_state(topo.b.ns, "eth0") == foreign
    finally:
        subprocess.run([*link, "xdpgeneric", "off"], check=True, capture_output=True)


# Preloaded into an applet: makes the kernel look as if it had no AF_XDP sockets
# (FAULT 1), or as if the interface took no XDP program in either mode (FAULT 2).
FAULT_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/syscall.h>

int socket(int domain, int type, int protocol)
{
	int (*real)(int, int, int) = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	if (FAULT == 1 && domain == 44) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	return real(domain, type, protocol);
}

long syscall(long nr, ...)
{
	long (*real)(long, ...) = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	va_list ap;
	va_start(ap, nr);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	if (FAULT == 2 && nr == SYS_bpf && a == BPF_LINK_CREATE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return real(nr, a, b, c, d, e, f);
}
"""


@pytest.fixture(scope="module")
def fault_shims(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("xdpshim")
    (folder / "shim.c").write_text(FAULT_SHIM)
    libs = {}
    for fault in (1, 2):
        libs[fault] = folder / f"fault{fault}.so"
        subprocess.run(["gcc", "-shared", "-fPIC", f"-DFAULT={fault}", "-o", str(libs[fault]),
                        "shim.c", "-ldl"], cwd=folder, check=True)  # fmt: skip
    return libs


@pytest.mark.parametrize(
    ("fault", "text"),
    [
        (
            1,
            "-X eth0: this kernel has no XDP sockets (AF_XDP): Address family not supported "
            "by protocol (needs CONFIG_XDP_SOCKETS)",
        ),
        (
            2,
            "-X eth0: the interface takes no XDP program, native or generic: Operation not "
            "supported",
        ),
    ],
    ids=["kernel-without-af-xdp", "interface-without-xdp"],
)
def test_missing_kernel_support_is_one_line(
    xdp_icperf: Path, xdp_topo: Topology, fault_shims: dict[int, Path], fault: int, text: str
) -> None:
    env = {**os.environ, "LD_PRELOAD": str(fault_shims[fault])}
    check_refusal(in_b(xdp_topo, xdp_icperf, "recv"), 1, text, env)
    assert xdp_state(xdp_topo.b.ns, "eth0") is None


@pytest.mark.parametrize(
    ("drop", "prlimit", "text"),
    [
        (
            "-net_raw",
            [],
            "-X eth0: cannot open an XDP socket: Operation not permitted (needs CAP_NET_RAW)",
        ),
        (
            "-ipc_lock",
            ["prlimit", "--memlock=1048576"],
            "-X eth0: cannot lock 32768 KiB of frame memory: No buffer space available (raise "
            "the memlock limit, ulimit -l, or give CAP_IPC_LOCK)",
        ),
        (
            "-bpf,-sys_admin,-perfmon",
            [],
            "-X eth0: the kernel refused the XDP program: Operation not permitted (needs CAP_BPF",
        ),
    ],
    ids=["no-cap-net-raw", "memlock", "no-cap-bpf"],
)
def test_missing_privileges_are_named(
    xdp_icperf: Path, xdp_topo: Topology, drop: str, prlimit: list[str], text: str
) -> None:
    """What a container must be given (docs/benchmarks-xdp.md): each gap is one line."""
    argv = in_b(xdp_topo, xdp_icperf, "recv")
    # Root loses a capability when it is not in the bounding set at exec.
    argv = [*argv[:4], *prlimit, "setpriv", f"--bounding-set={drop}", *argv[4:]]
    check_refusal(argv, 1, text)
    assert xdp_state(xdp_topo.b.ns, "eth0") is None


@pytest.mark.parametrize("missing", ["libraries", "clang"], ids=["without-libxdp", "without-clang"])
def test_build_without_xdp(tmp_path: Path, missing: str) -> None:
    """Without libxdp/libbpf (pkg-config finds neither) or without clang the socket
    applets build as before; -X then says the build lacks it."""
    build = tmp_path / "build"
    empty = tmp_path / "pkgconfig"
    empty.mkdir()
    env = dict(os.environ)
    args = ["make", "-C", str(NATIVE), f"BUILD={build}"]
    if missing == "libraries":
        env |= {"PKG_CONFIG_PATH": str(empty), "PKG_CONFIG_LIBDIR": str(empty)}
    else:
        args.append("BPF_CC=icpx-no-clang")
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False,
                          env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ICPERF_HAVE_XDP" not in done.stdout and "xdp_steer" not in done.stdout
    binary = build / "icperf"
    check_refusal([str(binary), "recv", *GOOD, "-X", "lo"], 1,
                  "-X lo: this build has no AF_XDP support")  # fmt: skip
    selftest = subprocess.run([str(binary), "selftest-hist"], capture_output=True, check=False)
    assert selftest.returncode == 0


def test_a_link_gone_down_is_said_once(xdp_icperf: Path, xdp_topo: Topology) -> None:
    """Kicks that fail for good leave the frames in the TX ring: the sender runs out of
    free frames, counts its bursts as dropped and says why, once."""
    topo = xdp_topo
    argv = ["send", *endpoints(topo.a, topo.b), "--json", "-X", "eth0", "-r", "20000"]
    proc = Applet(topo.a.ns, [*argv, "-t", "2"])
    link = ["ip", "-n", topo.a.ns, "link", "set", "dev", "eth0"]
    try:
        proc.wait_started()
        subprocess.run([*link, "down"], check=True)
        done = proc.finish(timeout=10)
    finally:
        proc.kill()
        subprocess.run([*link, "up"], check=True)
    assert done.returncode == 0, done.stderr
    s = done.summary()
    assert s["reason"] == "duration" and s["dropped"] > 0 and s["sent"] > 0, s
    assert done.stderr.splitlines() == [
        "icperf: -X eth0: send failed: Network is down (frames wait in the TX ring; reported once)"
    ], done.stderr
    assert xdp_state(topo.a.ns, "eth0") is None
