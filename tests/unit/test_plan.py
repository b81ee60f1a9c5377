"""The traits table and plan_test: every switch, every attachment kind."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.icperf.lab.plugins.module_utils import matrix, plan, vswitches
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

LAB = {"pairs": 1, "vf_pcis": ["0000:04:10.0", "0000:04:10.1"], "vfs": ["enp4s16", "enp4s16f1"]}
HOST = {"cores": "0-7", "reserved": [0], "name": "lab1"}
# The parameter check wants the lab files to exist; the plan reads the contents given.
LAB_DIR = Path(tempfile.mkdtemp(prefix="icperf-plan-labs-"))
atexit.register(shutil.rmtree, LAB_DIR, True)
L1, L = str(LAB_DIR / "l1.yml"), str(LAB_DIR / "l.yml")
for _path in (L1, L):
    Path(_path).write_text(yaml.safe_dump(LAB), encoding="utf-8")


def plan_one(vswitch: str, host: dict[str, Any] = HOST, lab: Any = LAB, **given: Any) -> dict:
    params = {"vswitches": [vswitch], "pkt_sizes": [64], "bursts": [32], "rates": [1000],
              "labs": [L1], "duration": 10, **given}  # fmt: skip
    tests = matrix.test_matrix(params, {L1: lab})
    return plan.plan_test(tests[0], params, lab, host)


def test_every_switch_has_a_row_and_a_role_name() -> None:
    assert vswitches.NAMES == (
        "linux-bridge", "basicfwd", "ovs", "vpp", "snabb", "snabb-wire", "sriov",
        "sriov-kernel",
    )  # fmt: skip
    for name in vswitches.NAMES:
        row = vswitches.traits(name)
        # A program of another switch runs that switch's role, which has no variant itself.
        base = row.variant_of or name
        assert not vswitches.traits(base).variant_of
        assert row.role == "vswitch_" + base.replace("-", "_")
        assert row.attach in vswitches.ATTACHMENTS
        assert row.applets in (vswitches.APPLETS_SOCKET, vswitches.APPLETS_DPDK)
        # Kernel-path switches drive no DPDK; bypass switches need hugepages.
        assert row.hugepages == (not row.kernel_path or row.applets == vswitches.APPLETS_DPDK)
    assert [n for n in vswitches.NAMES if vswitches.traits(n).polls] == [
        "basicfwd", "ovs", "vpp", "snabb", "snabb-wire",
    ]  # fmt: skip
    with pytest.raises(IcperfInputError, match=r"^vswitch: unknown virtual switch 'bess'"):
        vswitches.traits("bess")


def test_linux_bridge_plan_uses_sockets_and_veths() -> None:
    planned = plan_one("linux-bridge")
    assert planned["role"] == "vswitch_linux_bridge"
    assert planned["hugepages"] is False
    assert planned["switch_cores"] == []
    assert planned["settings"] == {}
    sender, receiver = planned["containers"]
    assert sender["argv"][:2] == ["/usr/local/bin/icperf", "send"]
    assert sender["argv"][sender["argv"].index("-t") + 1] == "10"
    # Receivers outlive the senders and are stopped once they are done.
    assert receiver["argv"][receiver["argv"].index("-t") + 1] == "70"
    assert (sender["active"], receiver["active"]) == (True, False)
    assert sender["wiring"] == {"net": "veth", "socket_dir": "", "hugepages_dir": "",
                                "host_usr": False, "prime_peer": True, "xdp": False,
                                "vfio": False}  # fmt: skip
    assert "--" not in sender["argv"]


@pytest.mark.parametrize("vswitch", ["basicfwd", "ovs", "vpp", "snabb", "snabb-wire"])
def test_vhost_user_switches_poll_their_own_cores(vswitch: str) -> None:
    planned = plan_one(vswitch, switch_cores=[2])
    row = vswitches.traits(vswitch)
    assert planned["switch_cores"] == [1, 2]
    assert planned["hugepages"] is True
    sender = planned["containers"][0]
    assert sender["cpus"] == [3]
    argv = sender["argv"]
    assert argv[1] == "dpdk-send"
    eal = argv[argv.index("--") + 1 :]
    assert eal[0] == (
        "--vdev=net_virtio_user0,path=/run/icperf/vhost/icp0.sock,queue_size=16384"
        + row.vdev_options
    )
    assert eal[-2:] == ["-m", "256"]
    assert sender["wiring"] == {
        "net": "empty", "socket_dir": "/run/icperf/vhost", "hugepages_dir": "/dev/hugepages",
        "host_usr": True, "prime_peer": False, "xdp": False, "vfio": False,
    }  # fmt: skip
    # Five cores for two pollers and the switch: nothing shared, the applets' own rings.
    assert planned["settings"] == {"ring": 1024}
    assert argv[argv.index("--ring") + 1] == "1024"
    assert planned["pollers_share_cores"] is False


def test_programs_of_one_switch_share_its_role_and_are_tests_of_their_own() -> None:
    learning, wire = plan_one("snabb"), plan_one("snabb-wire")
    assert learning["role"] == wire["role"] == "vswitch_snabb"
    # The playbooks hand the row's program to the role's start.
    assert (learning["traits"]["program"], wire["traits"]["program"]) == ("learning", "wire")
    assert plan_one("ovs")["traits"]["program"] == ""
    assert learning["identity"]["vswitch"] == "snabb"
    assert wire["identity"]["vswitch"] == "snabb-wire"
    assert learning["path"] != wire["path"] and "snabb-wire" in wire["path"].split("/")


def test_sriov_drives_the_vf_pci_device_without_switch_cores() -> None:
    planned = plan_one("sriov", switch_cores=[4])
    assert planned["switch_cores"] == []
    assert planned["identity"]["switch_cores"] == 0
    argv = planned["containers"][1]["argv"]
    assert argv[argv.index("--") + 1 : argv.index("--") + 3] == ["-a", "0000:04:10.1"]
    assert planned["containers"][1]["wiring"]["net"] == "empty"
    assert planned["containers"][1]["wiring"]["host_usr"] is True


def test_sriov_containers_open_their_vf_through_vfio() -> None:
    planned = plan_one("sriov")
    assert planned["role"] == "vswitch_sriov"
    assert planned["hugepages"] is True
    for container in planned["containers"]:
        assert container["wiring"]["vfio"] is True
        assert container["wiring"]["hugepages_dir"] == "/dev/hugepages"
        assert container["attach"] == "vf-pci"
    assert plan_one("linux-bridge")["containers"][0]["wiring"]["vfio"] is False


def test_sriov_kernel_row_gives_containers_the_vf_netdev() -> None:
    planned = plan_one("sriov-kernel")
    # The same switch, the same role: only the way in differs.
    assert planned["role"] == "vswitch_sriov"
    assert planned["traits"]["kernel_path"] is True and planned["traits"]["polls"] is False
    assert planned["hugepages"] is False and planned["switch_cores"] == []
    sender, receiver = planned["containers"]
    assert sender["argv"][:2] == ["/usr/local/bin/icperf", "send"]
    assert "--" not in sender["argv"]  # no EAL: the socket applets
    assert (sender["vf"], receiver["vf"]) == ("enp4s16", "enp4s16f1")
    assert sender["wiring"] == {
        "net": "phys", "socket_dir": "", "hugepages_dir": "", "host_usr": False,
        "prime_peer": True, "xdp": False, "vfio": False,
    }  # fmt: skip
    assert planned["path"] == "l1/d10/32/sriov-kernel/64/1000"
    without = {"pairs": 1}
    with pytest.raises(IcperfInputError, match=r"containers\[0\]\.vf: required with vswitch "
                       r"sriov-kernel"):  # fmt: skip
        plan_one("sriov-kernel", lab=without)


def test_vf_netdev_attachment_moves_the_vf_into_the_container(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kernel_vf = vswitches.SwitchTraits(
        name="sriov", kernel_path=True, polls=False,
        applets=vswitches.APPLETS_SOCKET, attach=vswitches.ATTACH_VF_NETDEV,
    )  # fmt: skip
    monkeypatch.setitem(vswitches.SWITCHES, "sriov", kernel_vf)
    planned = plan_one("sriov")
    sender = planned["containers"][0]
    assert sender["argv"][1] == "send"
    assert sender["vf"] == "enp4s16"
    assert sender["wiring"]["net"] == "phys"
    assert sender["wiring"]["prime_peer"] is True
    assert planned["hugepages"] is False
    without = {"pairs": 1}
    with pytest.raises(IcperfInputError, match=r"containers\[0\]\.vf: required with vswitch"):
        plan_one("sriov", lab=without)


def test_shared_cores_deepen_the_rings_and_warn() -> None:
    small = {"cores": "0-1", "reserved": [0], "name": "small"}
    planned = plan_one("ovs", host=small, switch_cores=[1])
    assert planned["shared_cores"] is True
    assert planned["pollers_share_cores"] is True
    assert planned["settings"] == {"ring": 16384}
    assert planned["record"]["settings"] == {"ring": 16384}
    warnings = plan.shared_core_warnings([planned, plan_one("ovs")])
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{planned['path']}: busy pollers share cores (icp0 on [1]")


def test_blocking_socket_applets_are_not_busy_pollers() -> None:
    small = {"cores": "0-1", "reserved": [0]}
    assert plan_one("linux-bridge", host=small)["pollers_share_cores"] is True
    blocking = plan_one("linux-bridge", host=small, blocking=True)
    assert blocking["shared_cores"] is True
    assert blocking["pollers_share_cores"] is False


def test_record_skeleton_holds_the_identity_and_every_app() -> None:
    planned = plan_one("ovs", multi=True)
    record = planned["record"]
    assert record["v"] == 1
    assert record["id"] == planned["path"] == "l1/c1-multi-d10/32/ovs/64/1000"
    assert record["params"] == {**planned["identity"], "lab_file": L1}
    assert record["params"]["multi"] is True
    assert [(a["container"], a["app"], a["host"], a["log"]) for a in record["apps"]] == [
        ("icp0", "send", "lab1", "icp0.send.jsonl"), ("icp1", "recv", "lab1", "icp1.recv.jsonl"),
    ]  # fmt: skip
    assert record["apps"][0]["command"] == planned["containers"][0]["argv"]


def test_settings_are_checked_and_override_the_defaults() -> None:
    params = {"vswitches": ["ovs"], "pkt_sizes": [64], "bursts": [32], "rates": [1],
              "labs": [L]}  # fmt: skip
    test = matrix.test_matrix(params, {L: LAB})[0]
    custom = plan.plan_test(test, params, LAB, HOST, {"binary": "/opt/icperf", "ring": 2048})
    assert custom["containers"][0]["argv"][0] == "/opt/icperf"
    assert custom["settings"] == {"ring": 2048}
    with pytest.raises(IcperfInputError, match=r"^settings\.rings: unknown"):
        plan.plan_test(test, params, LAB, HOST, {"rings": 1})
    with pytest.raises(IcperfInputError, match=r"^host: "):
        plan.plan_test(test, params, LAB, {"reserved": [0]})
    with pytest.raises(IcperfInputError, match=r"^switch_cores: 9 cores asked .* \(test l/"):
        plan.plan_tests(
            matrix.test_matrix({**params, "switch_cores": [9]}, {L: LAB}),
            params, {L: LAB}, HOST,
        )  # fmt: skip


def test_xdp_gives_the_socket_applets_an_af_xdp_socket() -> None:
    planned = plan_one("linux-bridge", xdp=True, blocking=True, consume=True)
    assert planned["path"] == "l1/blocking-consume-xdp-d10/32/linux-bridge/64/1000"
    assert planned["identity"]["xdp"] is True
    assert planned["record"]["params"]["xdp"] is True
    for container in planned["containers"]:
        argv = container["argv"]
        assert argv[argv.index("-X") + 1] == "eth0"
        assert "-R" not in argv and "-m" not in argv and "-B" in argv
        # The containers lock the AF_XDP frame memory: the lxc config lifts memlock.
        assert container["wiring"]["xdp"] is True
        assert container["wiring"]["net"] == "veth"
    assert plan_one("linux-bridge")["path"] == "l1/d10/32/linux-bridge/64/1000"


def test_xdp_is_refused_where_containers_have_no_kernel_netdev() -> None:
    refused = [n for n in vswitches.NAMES if not vswitches.traits(n).kernel_path
               or vswitches.traits(n).applets != vswitches.APPLETS_SOCKET]  # fmt: skip
    assert refused and "linux-bridge" not in refused
    for name in refused:
        with pytest.raises(IcperfInputError, match=rf"^xdp: {name} is a kernel-\w+ switch "
                           r"with \w+ applets; AF_XDP needs a kernel netdev in the container "
                           r"and the socket applets \(linux-bridge"):  # fmt: skip
            plan_one(name, xdp=True)
    with pytest.raises(IcperfInputError, match=r"^xdp: xdp and raw are two transports"):
        plan_one("linux-bridge", xdp=True, raw=True)
    with pytest.raises(IcperfInputError, match=r"^xdp: multi \(sendmmsg/recvmmsg\) is a socket"):
        plan_one("linux-bridge", xdp="yes", multi=True)


def test_xdp_follows_the_traits_not_the_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel VF driven by the socket applets is a kernel-path switch like the bridge."""
    kernel_vf = vswitches.SwitchTraits(
        name="sriov", kernel_path=True, polls=False,
        applets=vswitches.APPLETS_SOCKET, attach=vswitches.ATTACH_VF_NETDEV,
    )  # fmt: skip
    monkeypatch.setitem(vswitches.SWITCHES, "sriov", kernel_vf)
    receiver = plan_one("sriov", xdp=True)["containers"][1]
    assert receiver["argv"][1] == "recv"
    assert receiver["argv"][receiver["argv"].index("-X") + 1] == "eth0"
    assert receiver["wiring"]["net"] == "phys" and receiver["wiring"]["xdp"] is True
