"""Settings of the DPDK roles: pairs, testpmd's argv, masks, memory, OVS plans."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import dpdkconf
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labfile import lab_containers

SOCKS = "/run/icperf/vhost"
MEMINFO = """MemTotal:        8123456 kB
HugePages_Total:    1024
HugePages_Free:      300
HugePages_Rsvd:        0
HugePages_Surp:       12
Hugepagesize:       2048 kB
Hugetlb:         2097152 kB
"""
# ovs-vsctl --format=json list Open_vSwitch, as OVS 3.1 prints it.
OVS_LIST = json.dumps({
    "data": [[
        ["map", [["dpdk-init", "true"], ["pmd-cpu-mask", "0x2"], ["hw-offload", "false"]]],
        True, "3.1.0", "DPDK 22.11.11",
    ]],
    "headings": ["other_config", "dpdk_initialized", "ovs_version", "dpdk_version"],
})  # fmt: skip
OVS_LIST_FRESH = json.dumps({
    "data": [[["map", []], False, ["set", []], ["set", []]]],
    "headings": ["other_config", "dpdk_initialized", "ovs_version", "dpdk_version"],
})  # fmt: skip


def ports(pairs: int = 1, vswitch: str = "basicfwd") -> list[dict[str, object]]:
    return lab_containers({"pairs": pairs}, 4, [0], 1, vswitch, SOCKS)


def remote_sender(name: str = "far") -> dict[str, object]:
    return {"name": name, "app": "send", "peer": None, "sock": f"{SOCKS}/{name}.sock"}


# CPU masks and memory


def test_cpu_mask_sets_one_bit_per_core() -> None:
    assert dpdkconf.cpu_mask([1, 3]) == "0xa"
    assert dpdkconf.cpu_mask(["0"]) == "0x1"
    assert dpdkconf.cpu_mask([40, 1, 1]) == "0x10000000002"


@pytest.mark.parametrize("cores", [[], None, [-1], ["one"], [True]])
def test_cpu_mask_errors_name_the_variable(cores: Any) -> None:
    with pytest.raises(IcperfInputError, match=r"^icperf_vswitch_cores"):
        dpdkconf.cpu_mask(cores, "icperf_vswitch_cores")


def test_meminfo_free_hugepage_memory() -> None:
    info = dpdkconf.hugepages_meminfo(MEMINFO)
    assert info == {"total": 1024, "free": 300, "surplus": 12, "size_kb": 2048, "free_mb": 600}
    assert dpdkconf.hugepages_meminfo("MemTotal: 1 kB\n")["free_mb"] == 0
    with pytest.raises(IcperfInputError, match=r"^meminfo: None"):
        dpdkconf.hugepages_meminfo(None)


@pytest.mark.parametrize(
    ("setting", "needed", "expected"),
    [(True, 10_000, True), ("no", 1, False), ("auto", 600, True), ("auto", 601, False),
     ("AUTO", 512, True), ("true", 0, True)],
)  # fmt: skip
def test_use_hugepages(setting: object, needed: int, expected: bool) -> None:
    assert dpdkconf.use_hugepages(setting, MEMINFO, needed, "vswitch_ovs_hugepages") is expected


def test_use_hugepages_refuses_other_settings() -> None:
    with pytest.raises(IcperfInputError, match=r"^vswitch_ovs_hugepages: 'maybe' must be"):
        dpdkconf.use_hugepages("maybe", MEMINFO, 1, "vswitch_ovs_hugepages")


# basicfwd


def test_pairs_are_consecutive_in_the_portlist() -> None:
    plan = dpdkconf.basicfwd_plan(ports(2))
    assert [(p["port"], p["name"]) for p in plan["ports"]] == [
        (0, "icp0"), (1, "icp1"), (2, "icp2"), (3, "icp3"),
    ]  # fmt: skip
    assert plan["portlist"] == [0, 1, 2, 3]
    icp1 = {"port": 1, "name": "icp1", "sock": f"{SOCKS}/icp1.sock", "pci": None}
    assert plan["ports"][1] == icp1


def test_a_pair_listed_apart_stays_a_pair() -> None:
    containers = ports(2)
    shuffled = [containers[0], containers[2], containers[1], containers[3]]
    plan = dpdkconf.basicfwd_plan(shuffled)
    # icp0 with icp1, icp2 with icp3: testpmd's vdevs follow the pairs, not the list.
    assert [p["name"] for p in plan["ports"]] == ["icp0", "icp1", "icp2", "icp3"]


def test_remote_peers_pair_with_physical_ports_in_pci_order() -> None:
    containers = [*ports(1), remote_sender("far0"), remote_sender("far1")]
    plan = dpdkconf.basicfwd_plan(containers, ["0000:05:00.0", "04:00.1"])
    assert plan["ports"][:2] == [
        {"port": 0, "name": None, "sock": None, "pci": "0000:04:00.1"},
        {"port": 1, "name": None, "sock": None, "pci": "0000:05:00.0"},
    ]
    assert [p["name"] for p in plan["ports"][2:]] == ["icp0", "icp1", "far0", "far1"]
    # The local pair (2, 3), then far0 with the first NIC, far1 with the second.
    assert plan["portlist"] == [2, 3, 0, 4, 1, 5]


@pytest.mark.parametrize(
    ("containers", "physical", "message"),
    [
        ([], [], r"^icperf_vswitch_ports: must list"),
        ([{"name": "a", "sock": "rel.sock"}], [], r"^icperf_vswitch_ports\[0\]\.sock: 'rel.sock'"),
        ([{"sock": "/s"}], [], r"^icperf_vswitch_ports\[0\]\.name: missing"),
        ([remote_sender()], [], r"^icperf_vswitch_ports: no physical port left for far "),
        (ports(1), ["0000:04:00.0"],
         r"^vswitch_basicfwd_physical_ports: 0000:04:00.0 have no container"),
        (ports(1), ["eth0"], r"^vswitch_basicfwd_physical_ports\[0\]: 'eth0' is not a PCI"),
        (ports(1), "0000:04:00.0", r"^vswitch_basicfwd_physical_ports: '0000:04:00.0' must be"),
    ],
)  # fmt: skip
def test_pairing_errors_name_the_variable(containers: Any, physical: Any, message: str) -> None:
    with pytest.raises(IcperfInputError, match=message):
        dpdkconf.basicfwd_plan(containers, physical)


def test_a_peer_claimed_twice_is_refused() -> None:
    a, b = ports(1)
    third = {**b, "name": "icp9", "sock": f"{SOCKS}/icp9.sock", "peer": "icp1"}
    with pytest.raises(IcperfInputError, match=r"^icperf_vswitch_ports: icp9's peer icp1 has"):
        dpdkconf.basicfwd_plan([a, b, third])


def test_testpmd_argv_for_one_pair_with_hugepages() -> None:
    plan = dpdkconf.basicfwd_plan(ports(1))
    argv = dpdkconf.testpmd_argv(plan, [1], file_prefix="icperf-basicfwd", hugepages=True)
    assert argv == [
        "/usr/bin/dpdk-testpmd", "--lcores=0@0,1@1", "--main-lcore=0",
        "--file-prefix=icperf-basicfwd", "-v", "--no-pci", "--iova-mode=va",
        "--in-memory", "--single-file-segments", "-m512",
        f"--vdev=net_vhost0,iface={SOCKS}/icp0.sock,queues=1,client=0",
        f"--vdev=net_vhost1,iface={SOCKS}/icp1.sock,queues=1,client=0",
        "--", "--forward-mode=io", "--auto-start", "--stats-period=5",
        "--rxd=16384", "--txd=16384", "--total-num-mbufs=32768", "--nb-cores=1",
        "--port-topology=paired", "--portlist=0,1",
    ]  # fmt: skip


def test_testpmd_argv_with_nics_and_without_hugepages() -> None:
    plan = dpdkconf.basicfwd_plan([remote_sender()], ["0000:04:00.0"])
    argv = dpdkconf.testpmd_argv(
        plan, ["2", 3], testpmd="/opt/dpdk/bin/dpdk-testpmd", main_core="1", hugepages=False,
        memory_mb="1024", ring_size=1024, stats_period=1, extra_args=["--burst=64"],
    )  # fmt: skip
    assert argv[:6] == [
        "/opt/dpdk/bin/dpdk-testpmd", "--lcores=0@1,1@2,2@3", "--main-lcore=0",
        "--file-prefix=icperf-basicfwd", "-v", "--allow=0000:04:00.0",
    ]  # fmt: skip
    assert "--no-pci" not in argv and "--iova-mode=va" not in argv
    assert argv[6:8] == ["--no-huge", "-m1024"]
    # 32768 for the vhost-user port plus an rx and a tx ring for the NIC.
    assert "--total-num-mbufs=34816" in argv and "--nb-cores=2" in argv
    assert argv[-2:] == ["--portlist=0,1", "--burst=64"]
    assert dpdkconf.testpmd_argv(plan, [1], mbufs=5000).count("--total-num-mbufs=5000") == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cores": []}, r"^icperf_vswitch_cores: \[\] must list"),
        ({"ring_size": 32}, r"^vswitch_basicfwd_ring_size: 32 must be an integer >= 64"),
        ({"file_prefix": "a b"}, r"^vswitch_basicfwd_file_prefix: 'a b' must be"),
        ({"testpmd": "dpdk-testpmd"}, r"^vswitch_basicfwd_testpmd: 'dpdk-testpmd' is not"),
        ({"memory_mb": 0}, r"^vswitch_basicfwd_memory_mb: 0 must be an integer >= 1"),
        ({"extra_args": "--burst=64"}, r"^vswitch_basicfwd_extra_args: '--burst=64' must"),
    ],
)
def test_testpmd_argv_errors_name_the_variable(overrides: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"cores": [1], **overrides}
    cores = arguments.pop("cores")
    with pytest.raises(IcperfInputError, match=message):
        dpdkconf.testpmd_argv(dpdkconf.basicfwd_plan(ports(1)), cores, **arguments)


# OVS


def test_other_config_with_hugepages() -> None:
    assert dpdkconf.ovs_other_config([1]) == {
        "dpdk-init": "true",
        "dpdk-lcore-mask": "0x1",
        "dpdk-socket-mem": "1024",
        "dpdk-extra": "--file-prefix=icperf-ovs --no-pci",
        "per-port-memory": "true",
        "pmd-cpu-mask": "0x2",
    }


def test_other_config_without_hugepages_and_with_a_nic() -> None:
    want = dpdkconf.ovs_other_config(
        [2, 3], main_core=1, hugepages=False, no_huge_memory_mb=2048, file_prefix="icpd-ovs",
        physical_port={"name": "dpdk0", "pci": "04:00.0"}, extra_args=["--log-level=8"],
    )  # fmt: skip
    assert want["dpdk-socket-mem"] is None  # removed: OVS would ask for hugepages
    assert want["dpdk-extra"] == (
        "--file-prefix=icpd-ovs --allow=0000:04:00.0 --no-huge -m 2048 --legacy-mem --log-level=8"
    )
    assert (want["pmd-cpu-mask"], want["dpdk-lcore-mask"]) == ("0xc", "0x2")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"physical_port": {"name": "dpdk0"}}, r"^vswitch_ovs_physical_port\.pci: None"),
        ({"physical_port": {"name": "a-name-far-too-long", "pci": "04:00.0"}},
         r"^vswitch_ovs_physical_port\.name: 'a-name-far-too-long' is not"),
        ({"physical_port": "dpdk0"}, r"^vswitch_ovs_physical_port: 'dpdk0' must be null"),
        ({"socket_mem": "lots"}, r"^vswitch_ovs_socket_mem: 'lots' must be"),
        ({"main_core": -1}, r"^vswitch_ovs_main_core: -1 must be"),
        ({"extra_args": [1]}, r"^vswitch_ovs_dpdk_extra_args: \[1\] must be"),
    ],
)  # fmt: skip
def test_other_config_errors_name_the_variable(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(IcperfInputError, match=message):
        dpdkconf.ovs_other_config([1], **overrides)


def test_ovs_status_reads_the_row() -> None:
    assert dpdkconf.ovs_status(OVS_LIST) == {
        "other_config": {"dpdk-init": "true", "pmd-cpu-mask": "0x2", "hw-offload": "false"},
        "dpdk_initialized": True,
        "ovs_version": "3.1.0",
        "dpdk_version": "DPDK 22.11.11",
    }
    fresh = dpdkconf.ovs_status(OVS_LIST_FRESH)
    assert fresh == {
        "other_config": {}, "dpdk_initialized": False, "ovs_version": "", "dpdk_version": "",
    }  # fmt: skip
    with pytest.raises(IcperfInputError, match=r"^ovs-vsctl: '' is not one Open_vSwitch row"):
        dpdkconf.ovs_status("")


def test_config_args_touch_only_what_differs() -> None:
    status = dpdkconf.ovs_status(OVS_LIST)
    target = {"pmd-cpu-mask": "0x2", "dpdk-extra": "--no-pci", "dpdk-init": None, "other": "1"}
    assert dpdkconf.ovs_config_args(status, target) == [
        "--", "remove", "Open_vSwitch", ".", "other_config", "dpdk-init",
        "--", "set", "Open_vSwitch", ".", 'other_config:dpdk-extra="--no-pci"',
        "--", "set", "Open_vSwitch", ".", 'other_config:other="1"',
    ]  # fmt: skip
    assert dpdkconf.ovs_config_args(status, {"pmd-cpu-mask": "0x2", "absent": None}) == []


def test_start_on_fresh_ovs_saves_the_values_found_and_starts_vswitchd() -> None:
    want = dpdkconf.ovs_other_config([1])
    plan = dpdkconf.ovs_start_plan(dpdkconf.ovs_status(OVS_LIST_FRESH), want, False)
    assert plan["save"] == {"other_config": dict.fromkeys(want)}
    assert plan["keys"] == list(want) and plan["restart"]
    assert plan["daemon_ops"] == [["ovs-vswitchd", "started"]]
    assert plan["args"].count("set") == 6 and "remove" not in plan["args"]


def test_start_changes_the_pmd_mask_live() -> None:
    want = {**dpdkconf.ovs_other_config([1]), "pmd-cpu-mask": "0x2"}
    configured = json.loads(OVS_LIST)
    configured["data"][0][0] = ["map", sorted({**want, "pmd-cpu-mask": "0x4"}.items())]
    status = dpdkconf.ovs_status(json.dumps(configured))
    plan = dpdkconf.ovs_start_plan(status, want, True)
    assert plan["keys"] == ["pmd-cpu-mask"] and not plan["restart"]
    assert plan["daemon_ops"] == [] and "restarted" not in plan["save"]
    assert plan["save"]["other_config"]["pmd-cpu-mask"] == "0x4"


def test_start_restarts_a_running_vswitchd_for_dpdk_settings() -> None:
    want = dpdkconf.ovs_other_config([1])
    plan = dpdkconf.ovs_start_plan(dpdkconf.ovs_status(OVS_LIST), want, True)
    assert plan["restart"] and plan["save"]["restarted"] is True
    assert plan["daemon_ops"] == [["ovs-vswitchd", "stopped"], ["ovs-vswitchd", "started"]]
    assert plan["save"]["other_config"]["pmd-cpu-mask"] == "0x2"
    assert plan["save"]["other_config"]["dpdk-extra"] is None


SAVED_BEFORE_START = {
    "ovsdb_was_running": False,
    "vswitchd_was_running": False,
    "bridges": {"icperf-br0": True},
    "sockets": {f"{SOCKS}/icp0.sock": "icp0", f"{SOCKS}/icp1.sock": "icp1"},
}
SAVED_COMPLETE = {
    **SAVED_BEFORE_START,
    "other_config": {"dpdk-init": None, "pmd-cpu-mask": "0x1"},
}


def test_stop_without_saved_state_only_deletes_the_bridge() -> None:
    plan = dpdkconf.ovs_stop_plan({}, True, False)
    assert plan["del_br"] == [
        "ovs-vsctl", "--timeout=30", "--no-wait", "--", "--if-exists", "del-br", "icperf-br0",
    ]  # fmt: skip
    assert plan["before_ops"] == plan["after_ops"] == plan["stale"] == plan["remove"] == []
    assert plan["other_config"] == {}
    assert dpdkconf.ovs_stop_plan({}, False, False)["del_br"] == []


def test_stop_after_a_start_killed_before_ovsdb_answered() -> None:
    # The state file of a start that never got to read other_config: nothing to put
    # back, no need for ovsdb-server, only the sockets to remove.
    plan = dpdkconf.ovs_stop_plan(SAVED_BEFORE_START, False, False)
    assert plan["other_config"] == {}
    assert plan["before_ops"] == plan["after_ops"] == plan["del_br"] == []
    assert plan["remove"] == [*SAVED_BEFORE_START["sockets"], "/var/run/dpdk/icperf-ovs"]
    assert "ovsdb-server.pid" in plan["stale"] and "icperf-br0.mgmt" in plan["stale"]


def test_stop_after_a_start_killed_once_ovsdb_ran() -> None:
    plan = dpdkconf.ovs_stop_plan(SAVED_BEFORE_START, True, False)
    assert plan["other_config"] == {} and plan["before_ops"] == []
    assert plan["del_br"][-1] == "icperf-br0"
    assert plan["after_ops"] == [["ovsdb-server", "stopped"]]


def test_stop_stops_what_start_started_and_puts_the_values_back() -> None:
    plan = dpdkconf.ovs_stop_plan(SAVED_COMPLETE, True, True, bridge="ignored")
    assert plan["other_config"] == {"dpdk-init": None, "pmd-cpu-mask": "0x1"}
    assert "--no-wait" not in plan["del_br"]
    assert plan["after_ops"] == [["ovs-vswitchd", "stopped"], ["ovsdb-server", "stopped"]]
    assert (plan["ovsdb_up_end"], plan["vswitchd_up_end"]) == (False, False)


def test_stop_restarts_ovsdb_to_put_the_values_back_and_stops_it_again() -> None:
    plan = dpdkconf.ovs_stop_plan(SAVED_COMPLETE, False, False)
    assert plan["before_ops"] == [["ovsdb-server", "started"]]
    assert plan["del_br"] and plan["after_ops"] == [["ovsdb-server", "stopped"]]


def test_stop_brings_back_daemons_that_ran_before_start() -> None:
    saved = {**SAVED_COMPLETE, "ovsdb_was_running": True, "vswitchd_was_running": True}
    killed = dpdkconf.ovs_stop_plan(saved, False, False)
    assert killed["before_ops"] == [["ovsdb-server", "started"]]
    assert killed["after_ops"] == [["ovs-vswitchd", "started"]]
    assert killed["stale"] == [] and killed["remove"] == list(saved["sockets"])
    restarted = dpdkconf.ovs_stop_plan({**saved, "restarted": True}, True, True)
    assert restarted["after_ops"] == [["ovs-vswitchd", "stopped"], ["ovs-vswitchd", "started"]]
    untouched = dpdkconf.ovs_stop_plan(saved, True, True)
    assert untouched["after_ops"] == [] and untouched["before_ops"] == []


def test_stop_under_systemd_stops_units_that_are_already_dead() -> None:
    plan = dpdkconf.ovs_stop_plan(SAVED_BEFORE_START, False, False, manager="systemd")
    assert plan["after_ops"] == [["ovs-vswitchd", "stopped"], ["ovsdb-server", "stopped"]]


def test_stop_reads_the_state_of_an_earlier_version() -> None:
    saved = {"ovsdb_was_running": True, "vswitchd_was_running": True, "bridge": "old-br",
             "sockets": ["/run/a.sock"], "other_config": {}}  # fmt: skip
    plan = dpdkconf.ovs_stop_plan(saved, True, True)
    assert plan["bridges"] == ["old-br"] and plan["remove"] == ["/run/a.sock"]


@pytest.mark.parametrize(
    ("saved", "message"),
    [(None, r"^saved: None is not"), ({"other_config": []}, r"^saved\.other_config: \[\]")],
)
def test_stop_refuses_a_broken_state(saved: object, message: str) -> None:
    with pytest.raises(IcperfInputError, match=message):
        dpdkconf.ovs_stop_plan(saved, True, True)


def test_daemon_ops_for_ovs_ctl() -> None:
    assert dpdkconf.ovs_daemon_ops([["ovsdb-server", "started"], ("ovs-vswitchd", "stopped")]) == [
        {"daemon": "ovsdb-server", "state": "started",
         "ctl_args": ["--no-ovs-vswitchd", "--no-monitor", "--system-id=random",
                      "--no-record-hostname", "start"]},
        {"daemon": "ovs-vswitchd", "state": "stopped", "ctl_args": ["--no-ovsdb-server", "stop"]},
    ]  # fmt: skip
    with pytest.raises(IcperfInputError, match=r"^ops\[0\]: \['sshd', 'started'\]"):
        dpdkconf.ovs_daemon_ops([["sshd", "started"]])


def test_bridge_argv() -> None:
    argv = dpdkconf.ovs_bridge_argv(
        ports(1, "ovs"), "icpd-br0", {"name": "dpdk0", "pci": "0000:04:00.0"}, "30"
    )
    assert argv == [
        "ovs-vsctl", "--timeout=30",
        "--", "--if-exists", "del-br", "icpd-br0", "--", "add-br", "icpd-br0",
        "--", "set", "Bridge", "icpd-br0", "datapath_type=netdev",
        "--", "add-port", "icpd-br0", "icp0",
        "--", "set", "Interface", "icp0", "type=dpdkvhostuserclient",
        f'options:vhost-server-path="{SOCKS}/icp0.sock"',
        "--", "add-port", "icpd-br0", "icp1",
        "--", "set", "Interface", "icp1", "type=dpdkvhostuserclient",
        f'options:vhost-server-path="{SOCKS}/icp1.sock"',
        "--", "add-port", "icpd-br0", "dpdk0",
        "--", "set", "Interface", "dpdk0", "type=dpdk", "options:dpdk-devargs=0000:04:00.0",
    ]  # fmt: skip
    with pytest.raises(IcperfInputError, match=r"^vswitch_ovs_bridge: 'icperf-bridge-00' is"):
        dpdkconf.ovs_bridge_argv(ports(1, "ovs"), "icperf-bridge-00")


# hugepages

MOUNTS = "sysfs /sys sysfs rw 0 0\nnodev /dev/hugepages hugetlbfs rw,pagesize=2M 0 0\n"


def test_hugepages_plan_raises_mounts_and_saves_what_it_does() -> None:
    plan = dpdkconf.hugepages_plan("0\n", "sysfs /sys sysfs rw 0 0\n", "/mnt/huge", 1024, False)
    assert plan == {
        "files": {"/proc/sys/vm/nr_hugepages": "1024"},
        "mount": True,
        "save": {"mounts": {"/mnt/huge": {"mounted": True, "created_dir": True}}},
    }
    existing_dir = dpdkconf.hugepages_plan("0", "", "/mnt/huge", 1, True)
    assert existing_dir["save"] == {"mounts": {"/mnt/huge": {"mounted": True}}}


def test_hugepages_plan_leaves_a_ready_host_alone() -> None:
    plan = dpdkconf.hugepages_plan("2048", MOUNTS, "/dev/hugepages/", "1024", True)
    assert plan == {"files": {}, "mount": False, "save": {}}


@pytest.mark.parametrize(
    ("mounts", "mount", "count", "message"),
    [
        ("tmpfs /mnt/x tmpfs rw 0 0\n", "/mnt/x", 1,
         r"^hugepages_mount: /mnt/x is a mount point of tmpfs, not hugetlbfs"),
        ("", "mnt/x", 1, r"^hugepages_mount: 'mnt/x' is not an absolute path"),
        ("", "/mnt/x", 0, r"^hugepages_count: 0 must be an integer >= 1"),
    ],
)  # fmt: skip
def test_hugepages_plan_errors_name_the_variable(
    mounts: str, mount: str, count: int, message: str
) -> None:
    with pytest.raises(IcperfInputError, match=message):
        dpdkconf.hugepages_plan("0", mounts, mount, count, True)
