"""wire_nic against a fake sysfs tree: a NIC on a kernel driver (by PCI address or by
name), one given to DPDK and read through Open vSwitch, one without counters, and a NIC
the host does not have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.modules import wire_nic
from icperf_module_runner import check_documentation, patch_module, run_module

NIC = "0000:01:00.0"


class FakeHost:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sys = root / "sys"
        self.devices = self.sys / "bus/pci/devices"
        for driver in ("igb", "vfio-pci"):
            (self.sys / "bus/pci/drivers" / driver).mkdir(parents=True)
        self.commands: list[list[str]] = []
        self.ovs: dict[str, str] = {}
        patch_module(monkeypatch, self._run, lambda name: f"/usr/bin/{name}")

    def _run(self, args: list[str]) -> tuple[int, str, str]:
        self.commands.append(list(args))
        return 0, self.ovs.get(args[-1], ""), ""

    def nic(self, driver: str, netdev: str = "", speed: str = "1000", **stats: int) -> None:
        device = self.devices / NIC
        device.mkdir(parents=True)
        (device / "driver").symlink_to(self.sys / "bus/pci/drivers" / driver)
        if not netdev:
            return
        net = self.sys / "class/net" / netdev
        (net / "statistics").mkdir(parents=True)
        (device / "net" / netdev).mkdir(parents=True)
        (net / "device").symlink_to(device)
        (net / "speed").write_text(speed + "\n")
        for key in wire_nic.STATISTICS:
            (net / "statistics" / key).write_text(f"{stats.get(key, 0)}\n")

    def run(self, nic: str, **extra: Any) -> Any:
        return run_module(wire_nic, {"nic": nic, "sys_root": str(self.sys), **extra})


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    return FakeHost(tmp_path, monkeypatch)


def test_documentation_matches_the_arguments() -> None:
    check_documentation(wire_nic, {"wire"})


@pytest.mark.parametrize("given", [NIC, "enp1s0"])
def test_a_nic_on_its_kernel_driver_by_address_or_name(host: FakeHost, given: str) -> None:
    host.nic("igb", "enp1s0", rx_packets=22, tx_packets=21, rx_bytes=2028, tx_bytes=1990)
    result = host.run(given)
    assert not result.failed and result.result["changed"] is False
    assert result.result["wire"] == {
        "nic": given, "pci": NIC, "netdev": "enp1s0", "driver": "igb", "source": "netdev",
        "speed_mbps": 1000, "rx_packets": 22, "tx_packets": 21, "rx_bytes": 2028,
        "tx_bytes": 1990,
    }  # fmt: skip
    assert host.commands == []


def test_a_link_down_has_no_speed(host: FakeHost) -> None:
    host.nic("igb", "enp1s0", speed="-1")
    assert host.run(NIC).result["wire"]["speed_mbps"] == -1


def test_a_nic_given_to_dpdk_is_read_through_ovs(host: FakeHost) -> None:
    host.nic("vfio-pci")
    host.ovs = {
        "statistics": "{rx_bytes=816000, rx_dropped=0, rx_packets=12000, tx_bytes=680,"
                      " tx_packets=10}\n",
        "link_speed": "1000000000\n",
    }  # fmt: skip
    wire = host.run(NIC, ovs_interface="dpdk0", _ansible_check_mode=True).result["wire"]
    assert wire == {"nic": NIC, "pci": NIC, "netdev": "", "driver": "vfio-pci", "source": "ovs",
                    "speed_mbps": 1000, "rx_packets": 12000, "tx_packets": 10,
                    "rx_bytes": 816000, "tx_bytes": 680}  # fmt: skip
    assert host.commands == [
        ["/usr/bin/ovs-vsctl", "get", "Interface", "dpdk0", "statistics"],
        ["/usr/bin/ovs-vsctl", "get", "Interface", "dpdk0", "link_speed"],
    ]


def test_a_nic_given_to_dpdk_without_a_switch_to_ask_has_no_counters(host: FakeHost) -> None:
    host.nic("vfio-pci")
    wire = host.run(NIC).result["wire"]
    assert (wire["source"], wire["speed_mbps"], wire["driver"]) == ("none", -1, "vfio-pci")
    assert "rx_packets" not in wire


@pytest.mark.parametrize(("nic", "what"), [(NIC, f"PCI device {NIC}"), ("eth9", "interface eth9")])
def test_a_nic_the_host_lacks_fails_naming_the_variable(
    host: FakeHost, nic: str, what: str
) -> None:
    failed = host.run(nic, var_prefix="icperf_wire_")
    assert failed.failed
    assert failed.result["msg"] == f"icperf_wire_nic: this host has no {what}"


# igb's ethtool -S as the kernel prints it (an excerpt): rx_packets and the rest of the
# first lines are the port's registers (GPRC, GPTC, GORC, GOTC), which count the VFs'
# frames; the interface's own counters (sysfs) count only the PF's queues.
IGB_ETHTOOL = """NIC statistics:
     rx_packets: 12031
     tx_packets: 12007
     rx_bytes: 818118
     tx_bytes: 816530
     rx_broadcast: 2
     rx_queue_0_packets: 3
     rx_queue_0_bytes: 180
"""


def test_port_counters_are_the_ports_own_through_ethtool(host: FakeHost) -> None:
    host.nic("igb", "enp1s0", rx_packets=3, tx_packets=4)
    host.ovs = {"enp1s0": IGB_ETHTOOL}
    wire = host.run(NIC, counters="port").result["wire"]
    assert wire == {"nic": NIC, "pci": NIC, "netdev": "enp1s0", "driver": "igb",
                    "source": "port", "speed_mbps": 1000, "rx_packets": 12031,
                    "tx_packets": 12007, "rx_bytes": 818118, "tx_bytes": 816530}  # fmt: skip
    assert host.commands == [["/usr/bin/ethtool", "-S", "enp1s0"]]


def test_port_counters_of_ixgbe_have_their_own_names(host: FakeHost) -> None:
    host.nic("ixgbe", "enp1s0")
    host.ovs = {"enp1s0": "NIC statistics:\n     rx_packets: 1\n     rx_pkts_nic: 100\n"
                          "     tx_pkts_nic: 90\n     rx_bytes_nic: 6400\n"
                          "     tx_bytes_nic: 5760\n"}  # fmt: skip
    (host.sys / "bus/pci/drivers/ixgbe").mkdir()
    wire = host.run(NIC, counters="port").result["wire"]
    assert [wire[k] for k in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes")] == [
        100, 90, 6400, 5760]  # fmt: skip


def test_port_counters_of_a_driver_not_known_are_none(host: FakeHost) -> None:
    (host.sys / "bus/pci/drivers/virtio-pci").mkdir()
    host.nic("virtio-pci", "enp1s0", rx_packets=5)
    wire = host.run(NIC, counters="port").result["wire"]
    assert (wire["source"], wire["speed_mbps"]) == ("none", 1000)
    assert "rx_packets" not in wire and host.commands == []


def test_port_counters_missing_from_ethtool_fail_naming_the_variable(host: FakeHost) -> None:
    host.nic("igb", "enp1s0")
    host.ovs = {"enp1s0": "NIC statistics:\n     rx_packets: 1\n"}
    failed = host.run(NIC, counters="port", var_prefix="icperf_wire_")
    assert failed.failed
    assert failed.result["msg"] == (
        "icperf_wire_nic: ethtool -S enp1s0 (igb) has no tx_packets, rx_bytes, tx_bytes")
