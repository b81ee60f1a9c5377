"""Both SR-IOV rows of the traits table, planned and rendered: argv and LXC config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import matrix, plan
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.lxcconf import container_config
from ansible_collections.icperf.lab.plugins.modules.lxc_test import ContainerSet

LAB = {"pairs": 1, "vf_pcis": ["0000:01:10.0", "0000:01:10.2"], "vfs": ["enp1s16", "enp1s16f2"]}
HOST = {"cores": "0-3", "reserved": [0], "name": "guest0"}
PATHS = {"rootfs": "/var/lib/icperf/rootfs", "run_dir": "/var/lib/icperf/run"}


def containers(vswitch: str, tmp_path: Path) -> list[dict[str, Any]]:
    lab_file = tmp_path / "sriov.yml"
    lab_file.write_text("pairs: 1\n")
    params = {"vswitches": [vswitch], "pkt_sizes": [64], "bursts": [32], "rates": [10000],
              "labs": [str(lab_file)], "duration": 5}  # fmt: skip
    test = matrix.test_matrix(params, {str(lab_file): LAB})[0]
    return plan.plan_test(test, params, LAB, HOST)["containers"]


def test_vf_pci_containers_run_dpdk_on_their_vf_through_vfio(tmp_path: Path) -> None:
    sender, receiver = containers("sriov", tmp_path)
    argv = receiver["argv"]
    assert argv[:2] == ["/usr/local/bin/icperf", "dpdk-recv"]
    eal = argv[argv.index("--") + 1 :]
    assert eal[:2] == ["-a", "0000:01:10.2"]
    # The group is the host's: lxc_test reads it from sysfs when it defines the container.
    sysfs = tmp_path / "sys"
    groups = sysfs / "kernel/iommu_groups"
    (groups / "14").mkdir(parents=True)
    device = sysfs / "bus/pci/devices/0000:01:10.2"
    device.mkdir(parents=True)
    (device / "iommu_group").symlink_to(groups / "14")
    defined = ContainerSet.with_vfio_group(receiver, str(sysfs))
    assert defined["vfio_group"] == "14"
    config = container_config(defined, PATHS).splitlines()
    assert "lxc.net.0.type = empty" in config
    assert "lxc.mount.entry = /dev/vfio/vfio dev/vfio/vfio none bind,create=file 0 0" in config
    assert "lxc.mount.entry = /dev/vfio/14 dev/vfio/14 none bind,create=file 0 0" in config
    assert (
        "lxc.mount.entry = /dev/hugepages dev/hugepages none rw,bind,create=dir,optional 0 0"
        in config
    )
    assert "lxc.mount.entry = /usr usr none ro,bind 0 0" in config
    # No other VF's group: the sender's VF has none on this host yet.
    assert not [line for line in config if "/dev/vfio/" in line and "/14 " not in line
                and "/vfio " not in line]  # fmt: skip
    with pytest.raises(IcperfInputError, match=r"^vfio_group: container icp0 drives VF "
                       r"0000:01:10.0 with DPDK, but the VF's IOMMU group is unknown"):  # fmt: skip
        container_config(ContainerSet.with_vfio_group(sender, str(sysfs)), PATHS)


def test_vf_netdev_containers_take_the_vf_interface(tmp_path: Path) -> None:
    sender, receiver = containers("sriov-kernel", tmp_path)
    assert sender["argv"][:2] == ["/usr/local/bin/icperf", "send"]
    assert ContainerSet.with_vfio_group(sender, str(tmp_path)) is sender
    config = container_config(sender, PATHS)
    network = config[config.index("lxc.net.0.type") :].splitlines()[:5]
    assert network == [
        "lxc.net.0.type = phys",
        "lxc.net.0.link = enp1s16",
        "lxc.net.0.name = eth0",
        f"lxc.net.0.ipv4.address = {sender['ip']}/{sender['netmask']}",
        "lxc.net.0.flags = up",
    ]
    # The MAC is set through the PF: an untrusted VF could not take another.
    assert "lxc.net.0.hwaddr =" not in config
    assert f"lxc.environment = ICPERF_PRIME_PEER={sender['peer_ip']}" in config
    assert "/dev/vfio" not in config and "hugepages" not in config
    assert "lxc.net.0.link = enp1s16f2" in container_config(receiver, PATHS)
