"""QEMU guest hosts: Debian 12 systems that the collection provisions over SSH.

The system tests (and ``make guest``) use this module to

1. build or reuse the guest image (``scripts/guest-image.sh``: debootstrap, content-addressed
   cache under ``$ICPERF_GUEST_CACHE``, default ``/var/cache/icperf/guests``);
2. choose the accelerator: KVM only when a probe boot through the image's GRUB reaches SSH
   (the result is cached per host kernel, QEMU and image), TCG otherwise, or what
   ``ICPERF_GUEST_ACCEL`` (``kvm``, ``tcg``) forces;
3. boot N guests, each on its own copy-on-write overlay of the image, with SSH forwarded from
   a loopback port; wait for SSH; write an Ansible inventory for them;
4. tear them down (QEMU killed, overlays removed) when the ``with`` block ends, and also
   when this process dies (``PR_SET_PDEATHSIG``).

Guests reach nothing outside this machine: QEMU's user network runs with ``restrict=on`` and
forwards only ``127.0.0.1:PORT`` to the guest's port 22. Every boot goes through SeaBIOS and
the guest's own GRUB, so what a role changes in GRUB is what the next boot uses.

Run as a script::

    python tests/guests/harness.py image              # build or reuse, print its directory
    python tests/guests/harness.py up -n 2            # boot, print the inventory, wait for ^C
    python tests/guests/harness.py up --wire          # two lab hosts, their lab NICs cabled
    python tests/guests/harness.py up -- ansible-playbook -i {inventory} provision.yml
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
IMAGE_SCRIPT = REPO / "scripts" / "guest-image.sh"
DEFAULT_CACHE = "/var/cache/icperf/guests"
HOST_KEY_ALIAS = "icperf-guest"
QEMU = "qemu-system-x86_64"
# Seconds from QEMU's start to SSH. Measured under TCG on a 2-vCPU VM: 53-80 s.
BOOT_TIMEOUT = float(os.environ.get("ICPERF_GUEST_BOOT_TIMEOUT", "420"))
# A KVM guest that works prints the kernel's banner within seconds of its start.
KVM_PROBE_BANNER_TIMEOUT = 30.0
KVM_PROBE_SSH_TIMEOUT = 120.0
# Lab NICs (emulated igb) sit behind PCIe root ports in slots 0x10, 0x11, ... of the root
# bus; each guest's NICs share a QEMU hub (ids from LAB_HUB_BASE on), wired to each other only.
LAB_PORT_SLOT = 0x10
LAB_HUB_BASE = 10


def log(message: str) -> None:
    print(f"guests: {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    return Path(os.environ.get("ICPERF_GUEST_CACHE", DEFAULT_CACHE))


class GuestError(RuntimeError):
    """A guest did not start, boot or answer; the message carries its console's tail."""


# -- the image ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """A built guest image: its directory in the cache."""

    path: Path

    @property
    def disk(self) -> Path:
        return self.path / "disk.qcow2"

    @property
    def key(self) -> Path:
        return self.path / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.path / "known_hosts"

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.path / "image.json").read_text())

    @property
    def id(self) -> str:
        return self.path.name


def build_image() -> tuple[Image, float]:
    """Build the image or reuse the cached one; returns it and the seconds it took."""
    start = time.monotonic()
    result = subprocess.run(
        ["bash", str(IMAGE_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise GuestError(f"{IMAGE_SCRIPT.name} failed (rc {result.returncode})")
    image = Image(Path(result.stdout.strip().splitlines()[-1]))
    return image, time.monotonic() - start


# -- one guest ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started QEMU dies."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(none)"
    return "\n".join(text.splitlines()[-lines:])


def wire_netdev(nic: int, end: str, port: int) -> str:
    """A QEMU stream netdev: one end of a cable between two guests over 127.0.0.1.

    The ``listen`` end waits for the ``connect`` end, which retries every second until the
    listener is there (QEMU starts it asynchronously). Frames go through as they are: no
    switch, no hub, nothing else on the cable.
    """
    if end not in ("listen", "connect"):
        raise ValueError(f"wire end {end!r} is not listen or connect")
    options = "server=on" if end == "listen" else "server=off,reconnect-ms=1000"
    return f"stream,id=lab{nic},{options},addr.type=inet,addr.host=127.0.0.1,addr.port={port}"


@dataclass
class Guest:
    """One QEMU guest host on an overlay of the image."""

    name: str
    index: int
    image: Image
    workdir: Path
    accel: str = "tcg"
    memory_mb: int = 4096
    extra_args: Sequence[str] = ()
    lab_nics: int = 0
    ssh_port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0
    # Lab NIC 0 on a cable to another guest's lab NIC 0: ("listen" or "connect", a port
    # of 127.0.0.1). None: every lab NIC on this guest's hub.
    wire: tuple[str, int] | None = None

    @property
    def overlay(self) -> Path:
        return self.workdir / f"{self.name}.qcow2"

    @property
    def console_log(self) -> Path:
        return self.workdir / f"{self.name}.console.log"

    @property
    def qemu_log(self) -> Path:
        return self.workdir / f"{self.name}.qemu.log"

    @property
    def mac(self) -> str:
        return f"52:54:00:1c:00:{self.index:02x}"

    def lab_nic_address(self, nic: int) -> str:
        """PCI address of lab NIC ``nic`` in the guest: on the bus behind its root port."""
        return f"0000:{nic + 1:02x}:00.0"

    def lab_nic_mac(self, nic: int) -> str:
        return f"52:54:00:1d:{self.index:02x}:{nic:02x}"

    def lab_nic_args(self) -> list[str]:
        """Emulated igb NICs for the lab (vfio, DPDK), all on one QEMU hub of their own.

        Each NIC sits behind a PCIe root port of its own, as a server's NICs do (the root
        bus has no room for igb's SR-IOV routing IDs); the firmware numbers the ports' buses
        1, 2, ... in slot order. The hub is the cable between the NICs: what one sends the
        others receive, and nothing leaves the guest.
        """
        args: list[str] = []
        for nic in range(self.lab_nics):
            netdev = f"hubport,id=lab{nic},hubid={LAB_HUB_BASE + self.index}"
            if nic == 0 and self.wire is not None:
                netdev = wire_netdev(nic, *self.wire)
            args += [
                "-device", f"pcie-root-port,id=labport{nic},bus=pcie.0,chassis={nic + 1},"
                           f"addr={LAB_PORT_SLOT + nic:#x}",
                "-netdev", netdev,
                "-device", f"igb,netdev=lab{nic},mac={self.lab_nic_mac(nic)},bus=labport{nic}",
            ]  # fmt: skip
        return args

    def qemu_command(self) -> list[str]:
        accel = "kvm" if self.accel == "kvm" else "tcg"
        return [
            QEMU,
            "-name", self.name,
            "-nodefaults",
            "-accel", accel,
            # kernel-irqchip=split: intel-iommu's interrupt remapping needs the IOAPIC in QEMU.
            "-machine", "q35,kernel-irqchip=split",
            # phys-bits=35: guest RAM above 4 GiB (q35 maps everything past 2 GiB there) must
            # stay addressable for the emulated igb's VFs; max has pdpe1gb for 1 GB pages.
            # -arch-capabilities under KVM: without it QEMU 10.0 aborts on nested KVM
            # ("failed to set MSR 0x10a").
            "-cpu", "max,phys-bits=35" + (",-arch-capabilities" if accel == "kvm" else ""),
            "-smp", "1",
            "-m", str(self.memory_mb),
            # An IOMMU with interrupt remapping (before the other devices): Debian's kernel
            # has no VFIO_NOIOMMU, so vfio-pci in the guest needs it (intel_iommu=on).
            "-device", "intel-iommu,intremap=on",
            # No 64-bit PCI hole: every BAR stays below 4 GiB. QEMU 10.0's igb registers its
            # VF BARs as 32-bit; VFs placed above 4 GiB have dead registers and igbvf sees
            # "PF still in reset state" with no carrier.
            "-global", "q35-pcihost.pci-hole64-size=0",
            "-drive", f"file={self.overlay},if=virtio,format=qcow2,cache=unsafe,discard=unmap",
            # Management network: no route anywhere; SSH from this machine's loopback only.
            "-netdev", f"user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
            "-device", f"virtio-net-pci,netdev=mgmt,mac={self.mac}",
            "-display", "none",
            "-serial", f"file:{self.console_log}",
            *self.lab_nic_args(),
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> None:
        """Create a fresh overlay and start QEMU (returns at once; see wait_ssh)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.overlay.unlink(missing_ok=True)
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
             "-b", str(self.image.disk), str(self.overlay)],
            check=True,
        )  # fmt: skip
        for attempt in range(5):
            self.ssh_port = _free_port()
            self.console_log.unlink(missing_ok=True)
            with open(self.qemu_log, "wb") as qemu_log:
                self.process = subprocess.Popen(
                    self.qemu_command(),
                    stdin=subprocess.DEVNULL,
                    stdout=qemu_log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent,
                )
            self.started_at = time.monotonic()
            time.sleep(0.5)
            if self.process.poll() is None:
                return
            text = self.qemu_log.read_text(errors="replace")
            # Another process took the port between _free_port() and QEMU's bind: retry.
            if "host forwarding" not in text or attempt == 4:
                last = text.strip().splitlines()[-1] if text.strip() else "no message"
                raise GuestError(f"{self.name}: QEMU exited at once: {last}\n{text}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def describe_failure(self, what: str) -> str:
        return (
            f"{self.name} ({self.accel}): {what}\n--- QEMU ---\n{_tail(self.qemu_log, 10)}"
            f"\n--- console ---\n{_tail(self.console_log)}"
        )

    def ssh_args(self) -> list[str]:
        """OpenSSH options reaching this guest as root (without the destination)."""
        return [
            "-i", str(self.image.key),
            "-p", str(self.ssh_port),
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={self.image.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"HostKeyAlias={HOST_KEY_ALIAS}",
            "-o", "ConnectTimeout=10",
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=6",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip

    def ssh(
        self, command: str, *, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command in the guest as root."""
        result = subprocess.run(
            ["ssh", *self.ssh_args(), "root@127.0.0.1", command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise GuestError(
                f"{self.name}: `{command}` failed (rc {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    def read(self, path: str) -> str:
        return self.ssh(f"cat {shlex.quote(path)}").stdout

    def boot_id(self) -> str:
        return self.read("/proc/sys/kernel/random/boot_id").strip()

    def wait_ssh(self, timeout: float = BOOT_TIMEOUT, banner_timeout: float | None = None) -> float:
        """Wait until SSH answers; returns the seconds since QEMU started.

        ``banner_timeout``: give up when the kernel has printed nothing by then.
        """
        deadline = self.started_at + timeout
        while True:
            if not self.running():
                raise GuestError(self.describe_failure("QEMU exited"))
            with contextlib.suppress(subprocess.TimeoutExpired):
                if self.ssh("true", check=False, timeout=20).returncode == 0:
                    return time.monotonic() - self.started_at
            now = time.monotonic()
            if (
                banner_timeout is not None
                and now - self.started_at > banner_timeout
                and "Linux version" not in self.console_log.read_text(errors="replace")
            ):
                raise GuestError(self.describe_failure(f"no kernel banner in {banner_timeout} s"))
            if now > deadline:
                raise GuestError(self.describe_failure(f"no SSH after {timeout:.0f} s"))
            time.sleep(2)

    def reboot(self, timeout: float = BOOT_TIMEOUT) -> float:
        """Reboot the guest from inside (firmware, its GRUB); returns the seconds to SSH."""
        before = self.boot_id()
        start = time.monotonic()
        # The connection may drop before ssh returns: its status says nothing.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.ssh("systemctl reboot", check=False, timeout=30)
        while True:
            if not self.running():
                raise GuestError(self.describe_failure("QEMU exited during the reboot"))
            with contextlib.suppress(subprocess.TimeoutExpired):
                probe = self.ssh("cat /proc/sys/kernel/random/boot_id", check=False, timeout=20)
                if probe.returncode == 0 and probe.stdout.strip() not in ("", before):
                    return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise GuestError(self.describe_failure(f"no SSH {timeout:.0f} s after the reboot"))
            time.sleep(2)

    def stop(self) -> None:
        """Kill QEMU (the overlay is thrown away, so there is nothing to shut down cleanly)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def remove(self) -> None:
        self.stop()
        self.overlay.unlink(missing_ok=True)

    def reset(self) -> float:
        """Throw the overlay away and boot the image again; returns the boot's seconds."""
        self.stop()
        self.start()
        return self.wait_ssh()

    def inventory_vars(self) -> dict[str, Any]:
        common = [
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.image.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"HostKeyAlias={HOST_KEY_ALIAS}",
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=6",
        ]  # fmt: skip
        wired = {} if self.wire is None else {"icperf_wire_nic": self.lab_nic_address(0)}
        return {
            # The lab NICs' PCI addresses, for the vfio role and the tests.
            "icperf_guest_lab_nics": [self.lab_nic_address(n) for n in range(self.lab_nics)],
            # The NIC cabled to the other host (GuestPool(wire=True)).
            **wired,
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": self.ssh_port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.image.key),
            "ansible_ssh_common_args": shlex.join(common),
            "ansible_python_interpreter": "/usr/bin/python3",
        }


# -- the accelerator ------------------------------------------------------------------------


def _qemu_version() -> str:
    result = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()[0]


def choose_accel(image: Image, workdir: Path) -> tuple[str, str]:
    """Return (accelerator, why): kvm only where a probe guest booted with it."""
    forced = os.environ.get("ICPERF_GUEST_ACCEL", "auto")
    if forced in ("kvm", "tcg"):
        return forced, f"ICPERF_GUEST_ACCEL={forced}"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "no usable /dev/kvm"
    probe = Guest("kvm-probe", 99, image, workdir, accel="kvm")
    cpu = probe.qemu_command()[probe.qemu_command().index("-cpu") + 1]
    key = f"{os.uname().release} | {_qemu_version()} | {image.id} | -cpu {cpu}"
    probe_file = cache_dir() / "kvm-probe.json"
    with contextlib.suppress(FileNotFoundError, ValueError):
        cached = json.loads(probe_file.read_text())
        if cached.get("key") == key:
            return cached["accel"], f"{cached['why']} (probe cached in {probe_file})"
    log("probing KVM: one guest boot through GRUB")
    guest = probe
    try:
        guest.start()
        seconds = guest.wait_ssh(KVM_PROBE_SSH_TIMEOUT, banner_timeout=KVM_PROBE_BANNER_TIMEOUT)
        accel, why = "kvm", f"KVM probe guest reached SSH in {seconds:.0f} s"
    except GuestError as error:
        first = str(error).splitlines()[0]
        accel, why = "tcg", f"KVM probe failed: {first}"
    finally:
        guest.remove()
        for path in (guest.console_log, guest.qemu_log):
            path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        probe_file.write_text(json.dumps({"key": key, "accel": accel, "why": why}) + "\n")
    return accel, why


# -- N guests -------------------------------------------------------------------------------


@dataclass
class GuestPool:
    """Context manager: N booted guests and their inventory; always torn down."""

    count: int = 1
    workdir: Path | None = None
    memory_mb: int = 4096
    extra_args: Sequence[str] = ()
    lab_nics: int = 0
    # Two guests whose lab NIC 0 are joined by a cable (wire_netdev): two lab hosts.
    wire: bool = False
    guests: list[Guest] = field(default_factory=list)
    image: Image | None = None
    accel: str = ""
    accel_why: str = ""
    timings: dict[str, Any] = field(default_factory=dict)
    _own_workdir: bool = False

    @property
    def inventory(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "inventory.yml"

    def __enter__(self) -> GuestPool:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="icperf-guests-", dir="/var/tmp"))
            self._own_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.image, self.timings["image_seconds"] = build_image()
            self.accel, self.accel_why = choose_accel(self.image, self.workdir)
            log(f"accelerator: {self.accel} ({self.accel_why})")
            self.guests = [
                Guest(f"guest{i}", i, self.image, self.workdir, self.accel, self.memory_mb,
                      self.extra_args, self.lab_nics)
                for i in range(self.count)
            ]  # fmt: skip
            if self.wire:
                self._wire_guests()
            for guest in self.guests:
                guest.start()
            boot = {}
            for guest in self.guests:
                boot[guest.name] = round(guest.wait_ssh(), 1)
                log(f"{guest.name}: SSH on 127.0.0.1:{guest.ssh_port} after {boot[guest.name]} s")
            self.timings["boot_seconds"] = boot
            self.write_inventory()
        except BaseException:
            # Keep the consoles and QEMU's logs of a failed boot.
            self.teardown(keep_files=True)
            raise
        return self

    def _wire_guests(self) -> None:
        """guest0 listens on a loopback port, guest1 connects: started in that order."""
        if self.count != 2:
            raise GuestError(f"--wire joins two guests, not {self.count}")
        port = _free_port()
        for guest, end in zip(self.guests, ("listen", "connect"), strict=True):
            guest.lab_nics = max(guest.lab_nics, 1)
            guest.wire = (end, port)
        log(f"wire: guest0 lab NIC 0 <-> guest1 lab NIC 0 over 127.0.0.1:{port}")

    def write_inventory(self) -> Path:
        hosts = {guest.name: guest.inventory_vars() for guest in self.guests}
        inventory = {"all": {"children": {"icperf_hosts": {"hosts": hosts}}}}
        # JSON is YAML: Ansible's yaml inventory plugin reads it as it is.
        self.inventory.write_text(json.dumps(inventory, indent=2) + "\n")
        return self.inventory

    def __exit__(self, *exc: object) -> None:
        self.teardown(keep_files=exc != (None, None, None))

    def teardown(self, keep_files: bool = False) -> None:
        """Kill every guest and remove its overlay; the work directory too unless kept."""
        for guest in self.guests:
            guest.remove()
        if self._own_workdir and self.workdir is not None and not keep_files:
            for path in sorted(self.workdir.glob("*")):
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.workdir.rmdir()


# -- command line ---------------------------------------------------------------------------


def _interrupt(*_: object) -> None:
    """SIGTERM tears the guests down as ^C does."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("image", help="build or reuse the guest image; print its directory")
    up = sub.add_parser("up", help="boot guests, write their inventory, wait or run a command")
    up.add_argument("-n", "--count", type=int, default=1, help="number of guests (default 1)")
    up.add_argument("-m", "--memory", type=int, default=4096, help="MiB per guest (default 4096)")
    up.add_argument(
        "--lab-nics", type=int, default=0,
        help="emulated igb NICs per guest, wired to each other (PCI 0000:01:00.0, ...)",
    )  # fmt: skip
    up.add_argument(
        "--wire", action="store_true",
        help="two guests, lab NIC 0 of each joined by a cable (implies -n 2, --lab-nics 1)",
    )  # fmt: skip
    up.add_argument("--workdir", type=Path, help="overlays, consoles and inventory.yml")
    up.add_argument(
        "command", nargs=argparse.REMAINDER,
        help="run this ({inventory} is replaced), then tear down; without it wait for ^C",
    )  # fmt: skip
    args = parser.parse_args(argv)

    if args.action == "image":
        image, seconds = build_image()
        print(image.path)
        log(f"image {image.id}, kernel {image.info['kernel']}, {seconds:.1f} s")
        return 0

    signal.signal(signal.SIGTERM, _interrupt)
    command = [part for part in args.command if part != "--"]
    count = 2 if args.wire else args.count
    with GuestPool(
        count, args.workdir, args.memory, lab_nics=args.lab_nics, wire=args.wire
    ) as pool:
        log(f"inventory: {pool.inventory}")
        for guest in pool.guests:
            log(f"ssh {shlex.join(guest.ssh_args())} root@127.0.0.1")
        if command:
            command = [part.replace("{inventory}", str(pool.inventory)) for part in command]
            env = {**os.environ, "ICPERF_GUEST_INVENTORY": str(pool.inventory)}
            return subprocess.run(command, env=env, check=False).returncode
        log("guests are up; ^C tears them down")
        try:
            while all(guest.running() for guest in pool.guests):
                time.sleep(1)
            log("a guest stopped; tearing down")
        except KeyboardInterrupt:
            log("tearing down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
