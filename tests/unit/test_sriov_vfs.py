"""sriov_vfs module against a fake sysfs tree that acts as the kernel does on writes.

The fake host has one SR-IOV PF, 0000:01:00.0 (``enp1s0``, igb, 7 VFs at offset 0x80 and
stride 2 as QEMU's emulated 82576 has them), and a virtio NIC without SR-IOV. Writes to
``sriov_numvfs`` create or remove VF devices (refusing a change between two non-zero counts,
as the kernel does), ``drivers_probe`` binds igbvf (or a saved driver override), and ``ip``
is replaced by a function that keeps the PF's per-VF MAC, trust and spoof checking.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import sriovconf
from ansible_collections.icperf.lab.plugins.modules import sriov_vfs
from icperf_module_runner import Exit, check_documentation, patch_module, run_module

PF = "0000:01:00.0"
VF0, VF1, VF2 = "0000:01:10.0", "0000:01:10.2", "0000:01:10.4"
MAC0, MAC1 = "02:00:00:00:01:00", "02:00:00:00:01:01"


class FakeKernel:
    """sysfs under ``root`` and what the kernel does when its attributes are written."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sys = root / "sys"
        self.devices = self.sys / "bus/pci/devices"
        self.net = self.sys / "class/net"
        self.drivers = self.sys / "bus/pci/drivers"
        for driver in ("igb", "igbvf", "virtio-pci"):
            (self.drivers / driver).mkdir(parents=True)
        self.net.mkdir(parents=True)
        self.events: list[str] = []
        self.vf_config: dict[int, dict[str, Any]] = {}
        self.ip_fails = False
        # Every driver a VF was bound to, in order.
        self.bound: list[tuple[str, str]] = []
        # New VFs whose driver udev is loading: the driver attaches to them as soon as the
        # PF's autoprobe allows it, before or after the module's own probe.
        self.pending: list[str] = []
        self.add_device(PF, "igb", "enp1s0")
        pf = self.devices / PF
        (self.sys / "kernel/iommu_groups/12").mkdir(parents=True)
        (pf / "iommu_group").symlink_to(self.sys / "kernel/iommu_groups/12")
        for name, value in (("sriov_totalvfs", "7"), ("sriov_numvfs", "0"),
                            ("sriov_offset", "128"), ("sriov_stride", "2"),
                            ("sriov_drivers_autoprobe", "1")):  # fmt: skip
            (pf / name).write_text(value + "\n")
        self.add_device("0000:00:02.0", "virtio-pci", "")
        # A virtio NIC's netdev belongs to the virtio device on the PCI function.
        virtio = self.devices / "0000:00:02.0" / "virtio0"
        (virtio / "net" / "enp0s2").mkdir(parents=True)
        (virtio / "net" / "enp0s2" / "device").symlink_to(virtio)
        (self.net / "enp0s2").symlink_to(virtio / "net" / "enp0s2")
        # A virtual interface has no device at all.
        (self.net / "ifb0").mkdir()
        original = sriov_vfs.SriovVfs.write_attr
        monkeypatch.setattr(sriov_vfs.SriovVfs, "write_attr", self._writer(original))
        patch_module(monkeypatch, self._ip, lambda name: name)

    # -- devices ----------------------------------------------------------------------------

    def add_device(self, address: str, driver: str, netdev: str) -> None:
        device = self.devices / address
        device.mkdir(parents=True)
        if driver:
            self.bind(address, driver, netdev)

    def bind(self, address: str, driver: str, netdev: str = "") -> None:
        device = self.devices / address
        (device / "driver").symlink_to(self.drivers / driver)
        if netdev:
            (device / "net" / netdev).mkdir(parents=True)
            (device / "net" / netdev / "flags").write_text("0x1002\n")
            (self.net / netdev).symlink_to(device / "net" / netdev)
            (device / "net" / netdev / "device").symlink_to(device)

    def unbind(self, address: str) -> None:
        device = self.devices / address
        (device / "driver").unlink()
        for netdev in os.listdir(device / "net") if (device / "net").is_dir() else []:
            (self.net / netdev).unlink()
            (device / "net" / netdev / "device").unlink()
            (device / "net" / netdev / "flags").unlink()
            (device / "net" / netdev).rmdir()

    def driver(self, address: str) -> str:
        link = self.devices / address / "driver"
        return os.path.basename(os.readlink(link)) if link.is_symlink() else ""

    def probe(self, address: str) -> None:
        override = self.devices / address / "driver_override"
        forced = override.exists() and override.read_text().strip()
        autoprobe = (self.devices / PF / "sriov_drivers_autoprobe").read_text().strip()
        # The kernel probes a VF only when its PF allows it or an override names a driver.
        if self.driver(address) or not (forced or autoprobe == "1"):
            return
        if address in self.pending:
            self.pending.remove(address)
        driver = forced or "igbvf"
        self.bound.append((address, driver))
        index = [VF0, VF1, VF2].index(address)
        self.bind(address, driver, f"enp1s16f{index}" if driver == "igbvf" else "")
        if driver == "igbvf":
            # igbvf takes the MAC the PF holds for it when it binds.
            self.vf_config[index]["bound_mac"] = self.vf_config[index]["mac"]

    def numvfs(self) -> int:
        return int((self.devices / PF / "sriov_numvfs").read_text())

    # -- what writes do ------------------------------------------------------------------------

    def _writer(self, original: Callable[..., None]) -> Callable[..., None]:
        def write(module: Any, path: str, value: object) -> None:
            name = os.path.relpath(path, self.sys)
            self.events.append(f"write {name} {value}")
            if name == f"bus/pci/devices/{PF}/sriov_numvfs":
                self._set_numvfs(int(str(value)))
            elif name == "bus/pci/drivers_probe":
                self.probe(str(value))
            elif name.startswith("bus/pci/drivers/") and name.endswith("/unbind"):
                self.unbind(str(value))
            else:
                original(module, path, value)
            for address in list(self.pending):
                self.probe(address)

        return write

    def _set_numvfs(self, count: int) -> None:
        current = self.numvfs()
        if current and count and count != current:
            raise OSError(16, "Device or resource busy", "sriov_numvfs")
        pf = self.devices / PF
        if count == 0:
            for index in range(current):
                address = [VF0, VF1, VF2][index]
                if self.driver(address):
                    self.unbind(address)
                (pf / f"virtfn{index}").unlink()
                shutil.rmtree(self.devices / address)
            self.vf_config = {}
        for index in range(count if not current else 0):
            address = [VF0, VF1, VF2][index]
            self.add_device(address, "", "")
            (pf / f"virtfn{index}").symlink_to(self.devices / address)
            self.vf_config[index] = {"mac": "00:00:00:00:00:00", "trust": False,
                                     "spoofchk": True, "bound_mac": None}  # fmt: skip
            self.pending.append(address)
        (pf / "sriov_numvfs").write_text(f"{count}\n")

    def _ip(self, args: list[str], **_: Any) -> tuple[int, str, str]:
        if args[0] == "modprobe":
            # vfio_pci is there to load; igb_uio (dpdk-kmods-dkms) is not installed.
            self.events.append(" ".join(args))
            if args[-1] != "vfio_pci":
                return 1, "", f"modprobe: FATAL: Module {args[-1]} not found in directory"
            if args[1] != "--dry-run":
                (self.drivers / "vfio-pci").mkdir(exist_ok=True)
            return 0, "", ""
        if args[0] == "udevadm":
            self.events.append(" ".join(args))
            return 0, "", ""
        assert args[0] == "ip"
        words = args[1:]
        self.events.append("ip " + " ".join(words))
        for address in list(self.pending):
            self.probe(address)
        if self.ip_fails:
            return 2, "", "RTNETLINK answers: Operation not permitted"
        if words[:3] == ["-j", "link", "show"]:
            vfs = [{"vf": index, "address": config["mac"], "trust": config["trust"],
                    "spoofchk": config["spoofchk"], "link_state": "auto"}
                   for index, config in sorted(self.vf_config.items())]  # fmt: skip
            link: dict[str, Any] = {"ifname": words[4]}
            if self.numvfs():
                link["vfinfo_list"] = vfs
            return 0, json.dumps([link]), ""
        if words[:2] == ["link", "set"] and words[4:5] == ["vf"]:
            config = self.vf_config[int(words[5])]
            pairs = words[6:]
            for key, value in zip(pairs[::2], pairs[1::2], strict=True):
                config[key] = value if key == "mac" else value == "on"
            return 0, "", ""
        if words[:2] == ["link", "set"] and words[4] in ("up", "down"):
            flags = self.net / words[3] / "flags"
            flags.write_text("0x1003\n" if words[4] == "up" else "0x1002\n")
            return 0, "", ""
        raise AssertionError(f"unexpected ip {words}")

    def run(self, check_mode: bool = False, **params: Any) -> Exit:
        return run_module(sriov_vfs, {"sys_root": str(self.sys), **params}, check_mode)

    def snapshot(self) -> tuple[object, ...]:
        """Everything a run may change: the VFs, their drivers and settings, the PF's link."""
        tree = sorted(str(p.relative_to(self.sys)) for p in self.sys.rglob("*"))
        flags = (self.net / "enp1s0" / "flags").read_text()
        return tree, json.dumps(self.vf_config, sort_keys=True), flags, self.numvfs()


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    return FakeKernel(tmp_path, monkeypatch)


LAB_VFS = [
    {"index": 0, "mac": MAC0, "trust": False, "spoofchk": True},
    {"index": 1, "mac": MAC1, "trust": True, "spoofchk": False},
]


def test_creates_vfs_in_the_order_the_driver_needs(kernel: FakeKernel) -> None:
    done = kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS)
    assert not done.failed, done.result["msg"]
    assert done.result["changed"]
    events = kernel.events
    # The PF's link up first, VFs created with no driver probing them, MACs set, then probed.
    numvfs = events.index(f"write bus/pci/devices/{PF}/sriov_numvfs 2")
    assert events.index("ip link set dev enp1s0 up") < numvfs
    assert events[numvfs - 1] == f"write bus/pci/devices/{PF}/sriov_drivers_autoprobe 0"
    mac0 = events.index(f"ip link set dev enp1s0 vf 0 mac {MAC0}")
    mac1 = events.index(f"ip link set dev enp1s0 vf 1 mac {MAC1} trust on spoofchk off")
    # Autoprobe back to 1 only once every MAC is set: udev's module load binds nothing sooner.
    assert events.index(f"write bus/pci/devices/{PF}/sriov_drivers_autoprobe 1") > mac1
    assert mac0 < events.index(f"write bus/pci/drivers_probe {VF0}")
    # The VFs' interfaces are reported once udev has named them.
    assert events.index("udevadm settle --timeout=30") > events.index(
        f"write bus/pci/drivers_probe {VF1}"
    )
    assert f"write bus/pci/devices/{PF}/sriov_numvfs 0" not in events
    # Each VF's driver took the MAC the lab asked for.
    assert [kernel.vf_config[i]["bound_mac"] for i in (0, 1)] == [MAC0, MAC1]
    assert kernel.vf_config[1]["trust"] is True and kernel.vf_config[1]["spoofchk"] is False
    assert done.result["vfs"] == [
        {"pf": PF, "index": 0, "pci": VF0, "netdev": "enp1s16f0", "driver": "igbvf",
         "mac": MAC0, "trust": False, "spoofchk": True},
        {"pf": PF, "index": 1, "pci": VF1, "netdev": "enp1s16f1", "driver": "igbvf",
         "mac": MAC1, "trust": True, "spoofchk": False},
    ]  # fmt: skip
    assert done.result["pf"] == {
        "address": PF, "netdev": "enp1s0", "driver": "igb", "totalvfs": 7, "numvfs": 2,
        "up": True,
    }  # fmt: skip


def test_a_second_run_changes_nothing(kernel: FakeKernel) -> None:
    kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS)
    before = kernel.snapshot()
    kernel.events.clear()
    again = kernel.run(pf=PF, num_vfs=2, vfs=LAB_VFS)
    assert not again.failed and not again.result["changed"], again.result["actions"]
    assert [e for e in kernel.events if not e.startswith("ip -j")] == []
    assert kernel.snapshot() == before


def test_check_mode_reports_without_changing(kernel: FakeKernel) -> None:
    before = kernel.snapshot()
    planned = kernel.run(check_mode=True, pf="enp1s0", num_vfs=2, vfs=LAB_VFS)
    assert not planned.failed and planned.result["changed"]
    assert planned.result["actions"] == [
        "link enp1s0 up", "sriov_numvfs 0 -> 2", f"vf 0 mac {MAC0} trust off spoofchk on",
        f"vf 1 mac {MAC1} trust on spoofchk off",
    ]  # fmt: skip
    assert [vf["pci"] for vf in planned.result["vfs"]] == [VF0, VF1]
    assert [vf["mac"] for vf in planned.result["vfs"]] == [MAC0, MAC1]
    assert kernel.snapshot() == before
    assert not [e for e in kernel.events if not e.startswith("ip -j")]


def test_a_new_count_removes_the_vfs_first(kernel: FakeKernel) -> None:
    kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS)
    kernel.events.clear()
    grown = kernel.run(pf="enp1s0", num_vfs=3, vfs=LAB_VFS)
    assert not grown.failed, grown.result["msg"]
    writes = [e for e in kernel.events if "sriov_numvfs" in e]
    assert writes == [f"write bus/pci/devices/{PF}/sriov_numvfs {n}" for n in (0, 3)]
    assert [vf["pci"] for vf in grown.result["vfs"]] == [VF0, VF1, VF2]
    # The MACs the removal lost are set again.
    assert [vf["mac"] for vf in grown.result["vfs"][:2]] == [MAC0, MAC1]


def test_a_mac_changed_under_a_bound_kernel_driver_is_bound_again(kernel: FakeKernel) -> None:
    kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS)
    kernel.events.clear()
    other = "02:00:00:00:02:00"
    changed = kernel.run(pf="enp1s0", num_vfs=2, vfs=[{"index": 0, "mac": other}])
    assert changed.result["actions"] == [
        f"vf 0 mac {other}", f"bind {VF0} to its kernel driver (from igbvf)",
    ]  # fmt: skip
    assert kernel.vf_config[0]["bound_mac"] == other
    assert kernel.vf_config[1]["bound_mac"] == MAC1


def test_vfs_given_to_vfio_never_meet_a_kernel_driver(kernel: FakeKernel) -> None:
    created = kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS, vf_driver="vfio-pci")
    assert not created.failed, created.result["msg"]
    # vfio-pci loaded before the VFs appear.
    assert kernel.events.index("modprobe vfio_pci") < kernel.events.index(
        f"write bus/pci/devices/{PF}/sriov_numvfs 2"
    )
    assert [(vf["driver"], vf["netdev"]) for vf in created.result["vfs"]] == [("vfio-pci", "")] * 2
    assert kernel.bound == [(VF0, "vfio-pci"), (VF1, "vfio-pci")]
    override = kernel.events.index(f"write bus/pci/devices/{VF0}/driver_override vfio-pci")
    # The override is there before autoprobe is back, whenever udev loads igbvf.
    assert override < kernel.events.index(f"write bus/pci/devices/{PF}/sriov_drivers_autoprobe 1")
    assert kernel.events.index(f"ip link set dev enp1s0 vf 0 mac {MAC0}") < override
    other = "02:00:00:00:02:00"
    changed = kernel.run(pf="enp1s0", num_vfs=2, vfs=[{"index": 0, "mac": other}],
                         vf_driver="vfio-pci")  # fmt: skip
    # A DPDK process reads the MAC when it starts: vfio-pci is left alone.
    assert changed.result["actions"] == [f"vf 0 mac {other}"]
    assert kernel.driver(VF0) == "vfio-pci"
    back = kernel.run(pf="enp1s0", num_vfs=2)
    assert back.result["actions"] == [
        f"bind {VF0} to its kernel driver (from vfio-pci)",
        f"bind {VF1} to its kernel driver (from vfio-pci)",
    ]
    assert [kernel.driver(pci) for pci in (VF0, VF1)] == ["igbvf", "igbvf"]
    assert (kernel.devices / VF0 / "driver_override").read_text() == "\n"
    assert not kernel.run(pf="enp1s0", num_vfs=2).result["changed"]


def test_removing_the_vfs_and_taking_the_pf_down(kernel: FakeKernel) -> None:
    kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS)
    removed = kernel.run(pf="enp1s0", num_vfs=0, pf_link="down")
    assert not removed.failed and removed.result["changed"]
    assert removed.result["actions"] == ["sriov_numvfs 2 -> 0", "link enp1s0 down"]
    assert removed.result["vfs"] == [] and removed.result["boot_commands"] == []
    assert not (kernel.devices / VF0).exists()
    assert (kernel.net / "enp1s0" / "flags").read_text() == "0x1002\n"
    again = kernel.run(pf="enp1s0", num_vfs=0, pf_link="down")
    assert not again.result["changed"]


def test_boot_commands_reproduce_the_configuration(kernel: FakeKernel) -> None:
    done = kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS)
    sysfs = f"/sys/bus/pci/devices/{PF}"
    assert done.result["boot_commands"] == [
        ["ip", "link", "set", "dev", "enp1s0", "up"],
        ["sh", "-c", f"echo 0 > {sysfs}/sriov_drivers_autoprobe"],
        ["sh", "-c", f"echo 2 > {sysfs}/sriov_numvfs"],
        ["ip", "link", "set", "dev", "enp1s0", "vf", "0", "mac", MAC0, "trust", "off",
         "spoofchk", "on"],
        ["ip", "link", "set", "dev", "enp1s0", "vf", "1", "mac", MAC1, "trust", "on",
         "spoofchk", "off"],
        ["sh", "-c", f"echo 1 > {sysfs}/sriov_drivers_autoprobe"],
        ["sh", "-c", f"echo {VF0} > /sys/bus/pci/drivers_probe"],
        ["sh", "-c", f"echo {VF1} > /sys/bus/pci/drivers_probe"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pf": "eth9", "num_vfs": 2},
         r"^sriov_pf: 'eth9' is neither a network interface nor a PCI device of this host "
         r"\(its interfaces: enp0s2, enp1s0, enp1s16f0, ifb0\)"),
        ({"pf": "ifb0", "num_vfs": 2},
         r"^sriov_pf: ifb0 is a network interface without a PCI device \(a virtual one\)"),
        ({"pf": "0000:05:00.0", "num_vfs": 2},
         r"^sriov_pf: this host has no PCI device 0000:05:00.0"),
        ({"pf": "enp0s2", "num_vfs": 2},
         r"^sriov_pf: enp0s2 \(0000:00:02.0, virtio-pci\) has no SR-IOV capability"),
        ({"pf": "enp1s0", "num_vfs": 8},
         r"^sriov_num_vfs: 8 VFs asked, but 0000:01:00.0 has sriov_totalvfs = 7"),
        ({"pf": "enp1s0", "num_vfs": 2, "vfs": [{"index": 2, "mac": MAC0}]},
         r"^sriov_vfs\[0\]\.index: VF 2 asked, but 0000:01:00.0 will have 2 VFs"),
        ({"pf": "enp1s0", "num_vfs": 2, "vfs": [{"index": 0, "mac": MAC0},
                                                 {"index": 1, "mac": MAC0.upper()}]},
         r"^sriov_vfs\[1\]\.mac: 02:00:00:00:01:00 duplicates sriov_vfs\[0\]\.mac"),
        ({"pf": "enp1s0", "num_vfs": 2, "vfs": [{"index": 0, "mac": "03:00:00:00:00:01"}]},
         r"^sriov_vfs\[0\]\.mac: 03:00:00:00:00:01 is a multicast address"),
        ({"pf": "enp1s0", "num_vfs": 2, "vfs": [{"index": 1, "pci": "01:10.1"}]},
         r"^sriov_vfs\[0\]\.pci: 0000:01:10.1 is not a VF of 0000:01:00.0: its VF 1 is "
         r"0000:01:10.2"),
        ({"pf": "enp1s0", "num_vfs": 2, "vfs": [{"index": 0}, {"index": 0}]},
         r"^sriov_vfs\[1\]\.index: VF 0 is listed twice"),
        ({"pf": "enp1s0", "num_vfs": 2, "vf_driver": "igb_uio"},
         r"^sriov_vf_driver: this host has no igb_uio driver \(modprobe igb_uio: modprobe: "
         r"FATAL: Module igb_uio not found"),
        ({"pf": "enp1s0", "num_vfs": 2, "vf_driver": "vfio-pci", "no_iommu": True},
         r"^sriov_vf_driver: vfio-pci needs an IOMMU, and enp1s0 is in no IOMMU group"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_any_change(
    kernel: FakeKernel, params: dict[str, Any], message: str
) -> None:
    kernel.run(pf="enp1s0", num_vfs=1, vfs=[{"index": 0, "mac": "02:00:00:00:09:00"}])
    if params.pop("no_iommu", False):
        (kernel.devices / PF / "iommu_group").unlink()
    before = kernel.snapshot()
    kernel.events.clear()
    refused = kernel.run(var_prefix="sriov_", **params)
    assert refused.failed and refused.result.get("bad_input")
    assert re.search(message, refused.result["msg"]), refused.result["msg"]
    assert kernel.snapshot() == before
    assert not [e for e in kernel.events if not e.startswith(("ip -j", "modprobe --dry-run"))]


def test_vf_pci_addresses_named_right_pass(kernel: FakeKernel) -> None:
    done = kernel.run(check_mode=True, pf=PF, num_vfs=2,
                      vfs=[{"index": 0, "pci": "01:10.0"}, {"index": 1, "pci": VF1}])  # fmt: skip
    assert not done.failed, done.result.get("msg")


def test_a_failing_ip_command_fails_the_module(kernel: FakeKernel) -> None:
    kernel.ip_fails = True
    failed = kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS)
    assert failed.failed and not failed.result.get("bad_input")
    assert "ip link set dev enp1s0 up failed (rc 2): RTNETLINK answers" in failed.result["msg"]


@pytest.mark.parametrize(
    ("pf", "offset", "stride", "index", "vf"),
    [
        ("0000:01:00.0", 128, 2, 1, "0000:01:10.2"),  # QEMU's igb
        ("0000:03:00.0", 384, 2, 0, "0000:04:10.0"),  # an 82576's first port: the next bus
        ("0000:03:00.1", 384, 2, 3, "0000:04:10.7"),  # its second port: odd functions
        ("0001:3b:00.0", 16, 1, 9, "0001:3b:03.1"),
    ],
)
def test_vf_addresses_follow_offset_and_stride(
    pf: str, offset: int, stride: int, index: int, vf: str
) -> None:
    assert sriovconf.vf_address(pf, offset, stride, index) == vf


def test_boot_commands_give_vfs_to_vfio_before_any_probe(kernel: FakeKernel) -> None:
    done = kernel.run(pf="enp1s0", num_vfs=2, vfs=LAB_VFS, vf_driver="vfio-pci")
    commands = [" ".join(command) for command in done.result["boot_commands"]]
    assert commands[0] == "modprobe vfio_pci"
    override = commands.index(f"sh -c echo vfio-pci > /sys/bus/pci/devices/{VF1}/driver_override")
    assert override < commands.index(f"sh -c echo {VF0} > /sys/bus/pci/drivers_probe")
    assert commands.index(f"sh -c echo 2 > /sys/bus/pci/devices/{PF}/sriov_numvfs") < override


def test_documentation_matches_the_arguments() -> None:
    check_documentation(sriov_vfs, {"pf", "vfs", "actions", "boot_commands"})
