"""vfio_pci module: binding, remembering and giving back PCI devices, on a fake sysfs tree.

The fake host has sysfs (bus/pci/devices, drivers, kernel/iommu_groups) and procfs
(net/route) under tmp_path. Writes to sysfs attributes go through a small kernel model
(driver_override, unbind, drivers_probe, bind), and ``modprobe`` is replaced by a function
that "loads" a driver by creating its directory; both record what they were asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.modules import vfio_pci
from icperf_module_runner import (
    Exit,
    FakeRoots,
    check_documentation,
    patch_module,
    run_module,
)

NIC = "0000:00:10.0"
NIC2 = "0000:00:11.0"
MGMT = "0000:00:02.0"
ROUTE_HEADER = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"


class FakeHost(FakeRoots):
    """sysfs and procfs under ``root``, with a kernel that binds drivers as Linux does."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(root)
        self.etc = root / "etc/driverctl.d"
        self.state_file = root / "var/lib/icperf/vfio.json"
        (self.sys / "bus/pci/devices").mkdir(parents=True)
        (self.sys / "bus/pci/drivers").mkdir(parents=True)
        (self.sys / "kernel/iommu_groups").mkdir(parents=True)
        self.write("proc/net/route", ROUTE_HEADER)
        # Kernel modules modprobe can load, and each device's own driver.
        self.modules = {"igb", "vfio-pci", "virtio-pci", "uio_pci_generic"}
        self.default_driver: dict[str, str] = {}
        # Drivers that refuse a device (probe fails).
        self.refusing: set[str] = set()
        self.commands: list[list[str]] = []
        self.writes: list[tuple[str, str]] = []
        for driver in ("igb", "virtio-pci", "pcieport"):
            self.load(driver)
        self.add_device(MGMT, "virtio-pci", group="1", iface="enp0s2", net_in="virtio0")
        self.add_device(NIC, "igb", group="4", iface="ens16")
        self.add_device(NIC2, "igb", group="5", iface="ens17")
        self.route("enp0s2")
        patch_module(monkeypatch, self._run_command, lambda name: f"/sbin/{name}")
        monkeypatch.setattr(
            vfio_pci.VfioPci, "_write", lambda _self, path, value: self._kernel_write(path, value)
        )

    # -- building the host ---------------------------------------------------------------

    def load(self, driver: str) -> None:
        (self.sys / "bus/pci/drivers" / driver).mkdir(exist_ok=True)

    def device(self, address: str) -> Path:
        return self.sys / "devices/pci0000:00" / address

    def add_device(
        self, address: str, driver: str, group: str | None, iface: str = "", net_in: str = ""
    ) -> None:
        device = self.device(address)
        device.mkdir(parents=True)
        (device / "vendor").write_text("0x8086\n")
        (device / "device").write_text("0x10c9\n")
        (device / "class").write_text("0x020000\n")
        (device / "driver_override").write_text("(null)\n")
        (self.sys / "bus/pci/devices" / address).symlink_to(device)
        self.default_driver[address] = driver
        if driver:
            self._link(address, driver)
        if group is not None:
            members = self.sys / "kernel/iommu_groups" / group / "devices"
            members.mkdir(parents=True, exist_ok=True)
            (members / address).symlink_to(device)
            (device / "iommu_group").symlink_to(self.sys / "kernel/iommu_groups" / group)
        if iface:
            # virtio NICs keep their interface under a child device (virtio0/net/...).
            (device / net_in / "net" / iface).mkdir(parents=True)

    def route(self, iface: str) -> None:
        with open(self.proc / "net/route", "a") as handle:
            handle.write(f"{iface}\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n")

    def driver(self, address: str) -> str:
        link = self.device(address) / "driver"
        return os.path.basename(os.readlink(link)) if link.is_symlink() else ""

    def override(self, address: str) -> str:
        return (self.device(address) / "driver_override").read_text().strip()

    def _link(self, address: str, driver: str) -> None:
        (self.device(address) / "driver").symlink_to(self.sys / "bus/pci/drivers" / driver)

    # -- the kernel and the commands -----------------------------------------------------

    def _probe(self, address: str, driver: str) -> None:
        if driver in self.refusing or not (self.sys / "bus/pci/drivers" / driver).is_dir():
            return
        self._link(address, driver)

    def _kernel_write(self, path: str, value: str) -> None:
        rel = os.path.relpath(path, self.sys)
        self.writes.append((rel, value))
        parts = rel.split("/")
        if rel == "bus/pci/drivers_probe":
            address = value.strip()
            if not self.driver(address):
                self._probe(address, self.override(address).replace("(null)", "") or
                            self.default_driver[address])  # fmt: skip
        elif parts[-1] == "driver_override":
            (self.sys / rel).write_text((value.strip() or "(null)") + "\n")
        elif parts[-2:] == ["driver", "unbind"]:
            address = parts[-3]
            assert self.driver(address), f"unbind of unbound {address}"
            (self.device(address) / "driver").unlink()
        elif parts[:3] == ["bus", "pci", "drivers"] and parts[-1] == "bind":
            address = value.strip()
            assert not self.driver(address), f"bind of bound {address}"
            self._probe(address, parts[3])
        else:
            raise AssertionError(f"unexpected sysfs write {rel}")

    def _run_command(self, args: list[str], **_: Any) -> tuple[int, str, str]:
        self.commands.append(list(args))
        assert args[0] == "/sbin/modprobe", args
        name = args[-1]
        if name not in self.modules:
            return 1, "", f"modprobe: FATAL: Module {name} not found"
        if "--dry-run" not in args:
            self.load(name)
        return 0, "", ""

    def loads(self) -> list[list[str]]:
        return [c for c in self.commands if "--dry-run" not in c]

    def run(self, check_mode: bool = False, **params: Any) -> Exit:
        args = {
            **self.roots(),
            "driverctl_dir": str(self.etc),
            "state_file": str(self.state_file),
            **params,
        }
        return run_module(vfio_pci, args, check_mode)

    def saved(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())["devices"]

    def snapshot(self) -> tuple[Any, ...]:
        files = sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*"))
        return (
            files,
            {a: (self.driver(a), self.override(a)) for a in (MGMT, NIC, NIC2)},
            self.state_file.read_text() if self.state_file.exists() else None,
        )


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    return FakeHost(tmp_path, monkeypatch)


def test_binds_remembers_the_old_driver_and_saves_the_override(host: FakeHost) -> None:
    result = host.run(devices=[NIC])

    assert not result.failed, result.result
    assert result.result["changed"] is True
    assert result.result["changed_devices"] == [NIC]
    assert result.result["loaded"] is True
    assert host.loads() == [["/sbin/modprobe", "vfio-pci"]]
    assert host.driver(NIC) == "vfio-pci"
    assert host.override(NIC) == "vfio-pci"
    assert (host.etc / f"pci-{NIC}").read_text() == "vfio-pci\n"
    assert host.saved() == {NIC: {"driver": "igb", "vendor": "0x8086", "device": "0x10c9"}}
    assert result.result["devices"][NIC] == {
        "driver": "vfio-pci", "previous": "igb", "iommu_group": "4",
        "vendor": "0x8086", "device": "0x10c9", "saved": True,
    }  # fmt: skip
    # The other devices stay with their drivers.
    assert host.driver(NIC2) == "igb" and host.driver(MGMT) == "virtio-pci"


def test_second_run_changes_nothing_and_touches_no_device(host: FakeHost) -> None:
    host.run(devices=[NIC, NIC2])
    host.commands.clear()
    host.writes.clear()
    before = host.snapshot()

    result = host.run(devices=[NIC2, "00:10.0"])

    assert result.result["changed"] is False
    assert result.result["loaded"] is False
    assert host.writes == [] and host.loads() == []
    assert host.snapshot() == before
    assert set(result.result["devices"]) == {NIC, NIC2}


def test_check_mode_changes_nothing(host: FakeHost) -> None:
    before = host.snapshot()

    result = host.run(check_mode=True, devices=[NIC])

    assert result.result["changed"] is True
    assert result.result["changed_devices"] == [NIC]
    assert host.writes == [] and host.loads() == []
    assert host.snapshot() == before


def test_a_bound_device_whose_override_is_not_saved_is_only_saved(host: FakeHost) -> None:
    """Unbinding a device that DPDK holds would block: a bound device is never rebound."""
    host.run(devices=[NIC], persistent=False)
    assert not (host.etc / f"pci-{NIC}").exists()
    host.writes.clear()

    result = host.run(devices=[NIC])

    assert result.result["changed"] is True
    assert host.writes == []
    assert (host.etc / f"pci-{NIC}").read_text() == "vfio-pci\n"


def test_restore_gives_the_device_back_to_its_old_driver(host: FakeHost) -> None:
    host.run(devices=[NIC, NIC2])

    result = host.run(state="restored", devices=[NIC])

    assert not result.failed, result.result
    assert result.result["changed_devices"] == [NIC]
    assert host.driver(NIC) == "igb"
    assert host.override(NIC) == "(null)"
    assert not (host.etc / f"pci-{NIC}").exists()
    assert result.result["devices"][NIC]["previous"] == "igb"
    assert set(host.saved()) == {NIC2}
    assert host.driver(NIC2) == "vfio-pci"
    assert host.run(state="restored", devices=[NIC]).result["changed"] is False


def test_restore_without_devices_gives_back_every_remembered_one(host: FakeHost) -> None:
    host.run(devices=[NIC, NIC2])

    result = host.run(state="restored")

    assert result.result["changed_devices"] == [NIC, NIC2]
    assert host.driver(NIC) == "igb" and host.driver(NIC2) == "igb"
    assert host.saved() == {}
    assert list(host.etc.iterdir()) == []


def test_a_device_without_a_driver_before_stays_without_one(host: FakeHost) -> None:
    (host.device(NIC) / "driver").unlink()
    host.default_driver[NIC] = "igb"

    host.run(devices=[NIC])
    assert host.saved()[NIC]["driver"] == ""
    host.writes.clear()
    host.run(state="restored", devices=[NIC])

    assert host.driver(NIC) == ""
    assert host.writes == [
        (f"bus/pci/devices/{NIC}/driver_override", "\n"),
        (f"bus/pci/devices/{NIC}/driver/unbind", NIC),
    ]


def test_a_device_bound_by_someone_else_goes_to_the_kernels_pick(host: FakeHost) -> None:
    """No remembered driver: the override goes and the kernel probes the device again."""
    host.run(devices=[NIC])
    host.state_file.unlink()

    result = host.run(state="restored", devices=[NIC])

    assert result.result["changed"] is True
    assert result.result["devices"][NIC]["previous"] is None
    assert host.driver(NIC) == "igb"


def test_other_userspace_drivers_need_no_iommu(host: FakeHost) -> None:
    (host.device(NIC) / "iommu_group").unlink()

    result = host.run(devices=[NIC], driver="uio_pci_generic")

    assert not result.failed, result.result
    assert host.driver(NIC) == "uio_pci_generic"


def test_group_members_held_by_port_drivers_or_listed_too_are_fine(host: FakeHost) -> None:
    host.add_device("0000:00:1c.0", "pcieport", group="4")
    (host.device("0000:00:1c.0") / "class").write_text("0x060400\n")

    assert not host.run(devices=[NIC]).failed


def test_a_driver_that_does_not_bind_fails_the_task(host: FakeHost) -> None:
    host.refusing.add("vfio-pci")

    result = host.run(devices=[NIC])

    assert result.failed
    assert f"{NIC}: bound to no driver after the override to vfio-pci" in result.result["msg"]
    # The old driver is remembered: restore gives the device back.
    host.refusing.clear()
    host.run(state="restored", devices=[NIC])
    assert host.driver(NIC) == "igb"


@pytest.mark.parametrize(
    ("prepare", "params", "message"),
    [
        (None, {"devices": ["00:10"]}, "vfio_devices: '00:10' is not a PCI address"),
        (None, {"devices": ["0000:00:10.8"]}, "vfio_devices: '0000:00:10.8' is not a PCI"),
        (None, {"devices": []}, "vfio_devices: no device given"),
        (
            None,
            {"devices": [NIC, "0000:00:1f.7"]},
            "vfio_devices: 0000:00:1f.7 is not a PCI device of this host (its network "
            f"devices: {MGMT} (virtio-pci), {NIC} (igb), {NIC2} (igb))",
        ),
        (
            lambda h: (h.device(NIC) / "iommu_group").unlink(),
            {"devices": [NIC]},
            f"vfio_devices: {NIC} is in no IOMMU group: the kernel runs without an IOMMU",
        ),
        (
            lambda h: h.add_device("0000:00:10.1", "igb", group="4"),
            {"devices": [NIC]},
            f"vfio_devices: {NIC} shares IOMMU group 4 with 0000:00:10.1 (driver igb)",
        ),
        (None, {"devices": [MGMT]}, f"vfio_devices: {MGMT} is enp0s2, which carries IPv4 routes"),
        (
            lambda h: h.route("ens16"),
            {"devices": [NIC]},
            f"vfio_devices: {NIC} is ens16, which carries IPv4 routes",
        ),
        (
            lambda h: h.modules.discard("igb_uio"),
            {"devices": [NIC], "driver": "igb_uio"},
            "vfio_driver: this host has no igb_uio driver (no kernel module of that name; "
            "igb_uio comes from dpdk-kmods-dkms)",
        ),
    ],
    ids=[
        "short",
        "function-8",
        "none",
        "absent",
        "no-iommu",
        "group",
        "routed-virtio",
        "routed",
        "no-driver",
    ],
)
def test_bad_input_is_refused_naming_the_variable_before_any_change(
    host: FakeHost,
    prepare: Callable[[FakeHost], None] | None,
    params: dict[str, Any],
    message: str,
) -> None:
    if prepare:
        prepare(host)
    before = host.snapshot()

    result = host.run(var_prefix="vfio_", **params)

    assert result.failed
    assert result.result["msg"].startswith(message), result.result["msg"]
    assert result.result["bad_input"] is True
    assert host.snapshot() == before
    assert host.writes == [] and host.loads() == []


def test_a_routed_device_binds_when_allowed(host: FakeHost) -> None:
    result = host.run(devices=[MGMT], allow_routed=True)

    assert not result.failed, result.result
    assert host.driver(MGMT) == "vfio-pci"


def test_restore_forgets_a_remembered_device_that_is_gone(host: FakeHost) -> None:
    host.run(devices=[NIC])
    state = host.saved()
    state["0000:05:00.0"] = {"driver": "ixgbe", "vendor": "0x8086", "device": "0x10fb"}
    host.state_file.write_text(json.dumps({"devices": state}))

    result = host.run(state="restored")

    assert result.result["forgotten"] == ["0000:05:00.0"]
    assert host.saved() == {}
    assert host.driver(NIC) == "igb"


def test_result_is_json_serialisable(host: FakeHost) -> None:
    json.dumps(host.run(devices=[NIC]).result)


def test_documentation_matches_the_argument_spec() -> None:
    check_documentation(vfio_pci, {"devices", "changed_devices", "loaded"})
