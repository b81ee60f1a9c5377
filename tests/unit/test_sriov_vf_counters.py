"""sriov_vf_counters against a fake sysfs tree: VFs on igbvf (their interface's statistics,
refreshed through ethtool first), on vfio-pci (the 82576 VF's registers in a file standing for
its BAR), of an unknown device, and counter_deltas over two readings."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import sriovconf
from ansible_collections.icperf.lab.plugins.modules import sriov_vf_counters
from icperf_module_runner import check_documentation, patch_module, run_module

VF0, VF1, VF2 = "0000:01:10.0", "0000:01:10.2", "0000:01:10.4"


class FakeHost:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sys = root / "sys"
        self.devices = self.sys / "bus/pci/devices"
        for driver in ("igbvf", "vfio-pci"):
            (self.sys / "bus/pci/drivers" / driver).mkdir(parents=True)
        self.commands: list[list[str]] = []
        patch_module(monkeypatch, self._run, lambda name: f"/usr/sbin/{name}")

    def _run(self, args: list[str]) -> tuple[int, str, str]:
        self.commands.append(list(args))
        return 0, "NIC statistics:\n", ""

    def vf(self, address: str, driver: str, ident: tuple[str, str] = ("0x8086", "0x10ca")) -> Path:
        device = self.devices / address
        device.mkdir(parents=True)
        (device / "vendor").write_text(ident[0] + "\n")
        (device / "device").write_text(ident[1] + "\n")
        if driver:
            (device / "driver").symlink_to(self.sys / "bus/pci/drivers" / driver)
        return device

    def netdev(self, address: str, name: str, **stats: int) -> None:
        directory = self.devices / address / "net" / name / "statistics"
        directory.mkdir(parents=True)
        for key in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes"):
            (directory / key).write_text(f"{stats.get(key, 0)}\n")

    def registers(self, address: str, **values: int) -> None:
        """The VF's BAR 0 as a 16 KiB file holding the statistics registers."""
        bar = bytearray(0x4000)
        for key, offset in sriov_vf_counters.REGISTERS[("0x8086", "0x10ca")].items():
            struct.pack_into("<I", bar, offset, values.get(key, 0))
        (self.devices / address / "resource0").write_bytes(bytes(bar))

    def run(self, vfs: list[str], **extra: Any) -> Any:
        return run_module(
            sriov_vf_counters,
            {"vfs": vfs, "sys_root": str(self.sys), "netdev_timeout": 1, **extra},
        )


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    return FakeHost(tmp_path, monkeypatch)


def test_documentation_matches_the_arguments() -> None:
    check_documentation(sriov_vf_counters, {"counters"})


def test_a_vf_on_igbvf_is_read_through_its_interface_after_ethtool(host: FakeHost) -> None:
    host.vf(VF0, "igbvf")
    host.netdev(VF0, "enp1s0v0", rx_packets=120, tx_packets=7, rx_bytes=8160, tx_bytes=476)
    result = host.run([VF0])
    assert not result.failed and result.result["changed"] is False
    assert result.result["counters"][VF0] == {
        "driver": "igbvf", "netdev": "enp1s0v0", "source": "netdev",
        "rx_packets": 120, "tx_packets": 7, "rx_bytes": 8160, "tx_bytes": 476,
    }  # fmt: skip
    # igbvf copies its registers into the statistics every two seconds; ethtool -S makes
    # it copy them now.
    assert host.commands == [["/usr/sbin/ethtool", "-S", "enp1s0v0"]]


def test_a_vf_on_vfio_pci_is_read_through_its_registers(host: FakeHost) -> None:
    host.vf(VF1, "vfio-pci")
    host.registers(VF1, rx_packets=12000, tx_packets=3, rx_bytes=816000, tx_bytes=204)
    counters = host.run([VF1], _ansible_check_mode=True).result["counters"]
    assert counters[VF1] == {
        "driver": "vfio-pci", "netdev": "", "source": "registers",
        "rx_packets": 12000, "tx_packets": 3, "rx_bytes": 816000, "tx_bytes": 204,
    }  # fmt: skip
    assert host.commands == []


def test_unknown_devices_and_refused_bars_have_no_counters(host: FakeHost) -> None:
    host.vf(VF0, "vfio-pci", ident=("0x15b3", "0x101e"))
    host.vf(VF1, "vfio-pci")  # no resource0: the kernel would refuse the mapping
    counters = host.run([VF0, VF1]).result["counters"]
    assert counters[VF0]["source"] == "none"
    assert "no counters known for 0x15b3:0x101e" in counters[VF0]["why"]
    assert counters[VF1]["source"] == "none" and counters[VF1]["why"].startswith("resource0:")
    assert "rx_packets" not in counters[VF1]


def test_a_vf_whose_interface_is_away_is_waited_for(host: FakeHost) -> None:
    # igbvf holds the VF, but its interface is in a namespace being taken down: after the
    # timeout the VF has no counters (its BAR is the driver's).
    host.vf(VF0, "igbvf")
    counters = host.run([VF0]).result["counters"]
    assert counters[VF0]["source"] == "none"


def test_a_vf_the_host_does_not_have_fails_naming_the_variable(host: FakeHost) -> None:
    failed = host.run([VF2], var_prefix="vswitch_sriov_")
    assert failed.failed
    assert failed.result["msg"] == f"vswitch_sriov_vfs: this host has no PCI device {VF2}"


def test_counter_deltas_per_container() -> None:
    containers = [
        {"name": "icp0", "pf": "0000:01:00.0", "index": 0, "pci": VF0, "netdev": None},
        {"name": "icp1", "pf": "0000:01:00.0", "index": 1, "pci": VF1, "netdev": None},
        {"name": "icp2", "pf": "0000:01:00.0", "index": 2, "pci": VF2, "netdev": "enp1s0v2"},
    ]
    zero = {"rx_packets": 0, "tx_packets": 0, "rx_bytes": 0, "tx_bytes": 0}
    before = {
        VF0: {"source": "registers", "driver": "vfio-pci", "netdev": "", **zero,
              "tx_packets": 2**32 - 10, "tx_bytes": 2**32 - 640},
        VF1: {"source": "registers", "driver": "vfio-pci", "netdev": "", **zero,
              "rx_packets": 5},
        VF2: {"source": "netdev", "driver": "igbvf", "netdev": "enp1s0v2", **zero},
    }  # fmt: skip
    after = {
        VF0: {**before[VF0], "tx_packets": 90, "tx_bytes": 5760},
        VF1: {**before[VF1], "rx_packets": 105, "rx_bytes": 6400},
        VF2: {"source": "registers", "driver": "vfio-pci", "netdev": "", **zero},
    }
    facts = sriovconf.counter_deltas(before, after, containers)
    # A 32-bit register that wrapped still gives what moved.
    assert facts[0]["counters"] == {"rx_packets": 0, "tx_packets": 100, "rx_bytes": 0,
                                    "tx_bytes": 6400}  # fmt: skip
    assert facts[1]["counters"]["rx_packets"] == 100
    assert (facts[1]["driver"], facts[1]["counters_source"]) == ("vfio-pci", "registers")
    # Two readings of different sources count different frames: no counters.
    assert facts[2]["counters"] is None and facts[2]["netdev"] == "enp1s0v2"
    assert [f["container"] for f in facts] == ["icp0", "icp1", "icp2"]
