"""A test across two lab hosts, run on this machine: two inventory hosts (``lab1``, ``lab2``,
local connections), each with its own bridge and state files, cabled by a veth pair (each
end a host's ``icperf_wire_nic``, the uplink of its bridge).

The run play drives both hosts together: the receiver on lab2 is ready before the sender on
lab1 starts; the logs come from both; one test.json joins both hosts' records, with what the
cable's two ends counted. A controller interrupted mid-test leaves both hosts to the next
run, which restores them and runs the test again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from .conftest import (
    HOST_TEST_MARKS,
    LABS,
    STATE_DIR,
    base_vars,
    container_state,
    host_state,
    links,
    run_playbook,
    run_playbook_until,
)
from .records import summary

pytestmark = HOST_TEST_MARKS

CABLE = ("icplwa", "icplwb")
# Frames of the kernels on the cable during a test, at most.
KERNEL_FRAMES = 20
HOSTS = ("lab1", "lab2")
# lab2's containers: an LXC path of its own, so that each host's clean-up sees its own.
LAB2_LXCPATH = Path("/var/lib/icpl-lab2-lxc")


def host_vars(name: str, end: str) -> dict[str, Any]:
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": "/usr/bin/python3",
        "icperf_wire_nic": end,
        # Two hosts on one machine: a bridge and state files each.
        "vswitch_linux_bridge_name": f"icplbr-{name}",
        "vswitch_linux_bridge_state_file": str(STATE_DIR / f"icpl-{name}-bridge.json"),
        "host_tuning_state_file": str(STATE_DIR / f"icpl-{name}-tuning.json"),
        # The bridge sysctls are the machine's: one host sets and restores them.
        **({} if name == "lab1" else {"vswitch_linux_bridge_sysctls": {},
                                      "lxc_lxcpath": str(LAB2_LXCPATH)}),
    }  # fmt: skip


def lab2_container_state(name: str) -> str:
    result = subprocess.run(["lxc-info", "-n", name, "-sH", "-P", str(LAB2_LXCPATH)],
                            capture_output=True, text=True)  # fmt: skip
    return result.stdout.strip() if result.returncode == 0 else ""


def own_state() -> list[str]:
    """What the two hosts' runs may leave: their bridges and state files."""
    bridges = [name for name in links() if name.startswith("icplbr-")]
    files = [path.name for path in STATE_DIR.glob("icpl-lab*.json")]
    containers = sorted(p.name for p in LAB2_LXCPATH.glob("*")) if LAB2_LXCPATH.is_dir() else []
    return sorted(bridges + files + containers)


def cable_state() -> list[tuple[str, str, str]]:
    """Each cable end: its master (none) and whether it is up."""
    found = []
    for end in CABLE:
        master = Path("/sys/class/net", end, "master")
        flags = int(Path("/sys/class/net", end, "flags").read_text(), 16)
        found.append((end, master.resolve().name if master.exists() else "", str(flags & 1)))
    return found


@pytest.fixture
def cable() -> Iterator[Path]:
    """The veth pair, its lab2 end up and its lab1 end down (the run puts each back)."""
    subprocess.run(["ip", "link", "del", CABLE[0]], capture_output=True)
    subprocess.run(["ip", "link", "add", CABLE[0], "type", "veth", "peer", "name", CABLE[1]],
                   check=True)  # fmt: skip
    subprocess.run(["ip", "link", "set", CABLE[1], "up"], check=True)
    yield Path()
    subprocess.run(["ip", "link", "del", CABLE[0]], capture_output=True)
    for name in [n for n in links() if n.startswith("icplbr-")]:
        subprocess.run(["ip", "link", "del", name], capture_output=True)
    for path in STATE_DIR.glob("icpl-lab*.json"):
        path.unlink()
    for path in LAB2_LXCPATH.glob("*") if LAB2_LXCPATH.is_dir() else []:
        subprocess.run(["lxc-stop", "-n", path.name, "-k", "-P", str(LAB2_LXCPATH)],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(STATE_DIR / "run" / path.name, ignore_errors=True)


def inventory(tmp: Path) -> Path:
    hosts = {name: host_vars(name, end) for name, end in zip(HOSTS, CABLE, strict=True)}
    path = tmp / "inventory.yml"
    path.write_text(json.dumps({"all": {"children": {"icperf_hosts": {"hosts": hosts}}}}))
    return path


def split_lab(tmp: Path) -> str:
    """The tests' pair, its sender on lab1 and its receiver on lab2."""
    lab = yaml.safe_load((LABS / "icpl-pair.yml").read_text())
    lab["containers"][0]["host"], lab["containers"][1]["host"] = HOSTS
    path = tmp / "icpl-split.yml"
    path.write_text(yaml.safe_dump(lab))
    return str(path)


def two_host_vars(tmp: Path, **overrides: Any) -> dict[str, Any]:
    """base_vars without its bridge name: each host's inventory entry names its own (as
    extra vars, one name would put both cable ends on one bridge: a loop)."""
    extravars = base_vars(tmp, provision=False, **overrides)
    del extravars["vswitch_linux_bridge_name"]
    return extravars


def records(results: Path, by: str = "lab") -> dict[Any, dict[str, Any]]:
    """Every test.json under ``results``, with its folder, by the parameter ``by``."""
    found = {}
    for path in results.rglob("test.json"):
        record = json.loads(path.read_text())
        found[record["params"][by]] = {**record, "folder": path.parent}
    return found


def test_a_remote_and_a_local_test_on_two_hosts(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None, cable: Path
) -> None:
    before = cable_state()
    extravars = two_host_vars(tmp_path, labs=[split_lab(tmp_path), str(LABS / "icpl-pair.yml")])
    run = run_playbook(tmp_path, "testset.yml", extravars, inventory=inventory(tmp_path))

    assert run.rc == 0, run.stdout[-4000:]
    found = records(tmp_path / "results")
    assert set(found) == {"icpl-split", "icpl-pair"}
    remote, local = found["icpl-split"], found["icpl-pair"]
    assert remote["params"]["hosts"] == "remote" and local["params"]["hosts"] == "local"
    assert remote["status"] == "ok", remote["reason"]
    apps = {app["container"]: app for app in remote["apps"]}
    assert {name: (app["host"], app["peer"]) for name, app in apps.items()} == {
        "icpl-s0": ("lab1", "icpl-r0"), "icpl-r0": ("lab2", "icpl-s0"),
    }  # fmt: skip
    # Each host's logs were fetched into the test's folder.
    sent = summary(remote["folder"] / apps["icpl-s0"]["log"])
    got = summary(remote["folder"] / apps["icpl-r0"]["log"])
    assert got["rx"] == sent["sent"] > 0 and got["lost"] == 0, (sent, got)
    # The cable: both ends carried every frame of the sender, besides a few of the kernels'
    # own (ARP, the priming ping, IPv6). Each host reads its end at nearly the same moment,
    # not the same one: such a frame may cross between the two readings.
    wire = {name: remote["hosts"][name]["wire"] for name in HOSTS}
    assert [wire[name]["netdev"] for name in HOSTS] == list(CABLE)
    assert wire["lab1"]["tx_packets"] >= sent["sent"], wire
    assert wire["lab2"]["rx_packets"] >= got["rx"], wire
    for one, other in (("lab1", "lab2"), ("lab2", "lab1")):
        assert abs(wire[one]["tx_packets"] - wire[other]["rx_packets"]) <= KERNEL_FRAMES, wire
    assert wire["lab1"]["tx_packets"] - sent["sent"] <= KERNEL_FRAMES, wire
    # A veth reports 10000 Mb/s.
    assert remote["line_rate_bps"] == 10_000_000_000
    assert set(remote["hosts"]) == set(HOSTS)
    assert all(remote["hosts"][name]["versions"]["linux-bridge"] for name in HOSTS)
    # The sender's host measured the CPU time of its steady window; the receiver's none.
    assert remote["cpu"] == remote["hosts"]["lab1"]["cpu"] and "busy_s" in remote["cpu"]
    assert remote["hosts"]["lab2"]["cpu"] is None
    # The local test ran on the first host alone, its record as on one host.
    assert local["status"] == "ok", local["reason"]
    assert {app["host"] for app in local["apps"]} == {"lab1"}
    assert "hosts" not in local and "line_rate_bps" not in local
    # Both hosts restored: no container, bridge or state file; the cable as found.
    assert host_state() == clean_host
    assert own_state() == []
    assert cable_state() == before


def test_round_trips_across_two_hosts_draw_the_remote_latency_figure(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None, cable: Path
) -> None:
    """Figure 5.11's kind: a client on lab1 and its server on lab2 at two packet sizes,
    every echo crossing the cable both ways; the analysis draws RTT against P for L =
    remote."""
    lab = {**yaml.safe_load((LABS / "icpl-latency.yml").read_text()), "across_hosts": True}
    path = tmp_path / "icpl-latency-across.yml"
    path.write_text(yaml.safe_dump(lab))
    extravars = two_host_vars(tmp_path, labs=[str(path)], pkt_sizes=[64, 512], bursts=1,
                              rates=2000)  # fmt: skip
    run = run_playbook(tmp_path, "testset.yml", extravars, inventory=inventory(tmp_path))

    assert run.rc == 0, run.stdout[-4000:]
    tests = [json.loads(p.read_text()) | {"folder": p.parent}
             for p in (tmp_path / "results").rglob("test.json")]  # fmt: skip
    assert sorted(t["params"]["pkt_size"] for t in tests) == [64, 512]
    for test in tests:
        assert test["status"] == "ok", test["reason"]
        assert test["params"]["hosts"] == "remote"
        apps = {app["container"]: app for app in test["apps"]}
        assert {name: (app["app"], app["host"]) for name, app in apps.items()} == {
            "icpl-l0": ("client", "lab1"), "icpl-l1": ("server", "lab2"),
        }  # fmt: skip
        client = summary(test["folder"] / apps["icpl-l0"]["log"])
        server = summary(test["folder"] / apps["icpl-l1"]["log"])
        assert 0 < client["echoed"] <= client["sent"] and server["rx"] >= client["echoed"]
        assert client["rtt_min_ns"] > 0
        # Every echo crossed the cable: lab2's end received the requests, sent the echoes.
        wire = test["hosts"]["lab2"]["wire"]
        assert wire["rx_packets"] >= client["sent"] and wire["tx_packets"] >= client["echoed"]
    assert host_state() == clean_host
    assert own_state() == []

    from icperf_analysis.cli import main

    out = tmp_path / "report"
    assert main([str(tmp_path / "results"), "--out", str(out)]) == 0
    drawn = sorted(p.name for p in out.rglob("rtt_vs_pkt_*.png"))
    assert drawn and all("remote" in name for name in drawn), drawn


def test_pairs_across_two_hosts_draw_the_remote_pairs_figure(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None, cable: Path
) -> None:
    """Figure 5.8's kind: one pair and two pairs across the cable (short labs with
    across_hosts), every receiver on lab2 getting all its sender's packets; the analysis
    draws the total throughput against the number of pairs for L = remote, with the line
    rate the runs recorded."""
    labs = []
    for pairs, prefix in ((1, "icpl-a"), (2, "icpl-b")):
        path = tmp_path / f"{prefix}.yml"
        path.write_text(yaml.safe_dump({
            "description": f"{pairs} pairs across the cable", "pairs": pairs,
            "dimension": "throughput", "subnet": f"10.0.{77 + pairs}.0/24",
            "name_prefix": prefix, "across_hosts": True,
        }))  # fmt: skip
        labs.append(str(path))
    run = run_playbook(tmp_path, "testset.yml", two_host_vars(tmp_path, labs=labs),
                       inventory=inventory(tmp_path))  # fmt: skip

    assert run.rc == 0, run.stdout[-4000:]
    found = records(tmp_path / "results")
    assert set(found) == {"icpl-a", "icpl-b"}
    for name, record in found.items():
        assert record["status"] == "ok", (name, record["reason"])
        assert record["params"]["hosts"] == "remote"
        apps = {app["container"]: app for app in record["apps"]}
        receivers = [app for app in apps.values() if app["app"] == "recv"]
        assert len(receivers) == (1 if name == "icpl-a" else 2)
        for recv in receivers:
            got = summary(record["folder"] / recv["log"])
            sent = summary(record["folder"] / apps[recv["peer"]]["log"])
            assert (recv["host"], apps[recv["peer"]]["host"]) == ("lab2", "lab1")
            assert got["rx"] == sent["sent"] > 0 and got["lost"] == 0, (name, sent, got)
    assert host_state() == clean_host
    assert own_state() == []

    from icperf_analysis.cli import main

    out = tmp_path / "report"
    assert main([str(tmp_path / "results"), "--out", str(out)]) == 0
    drawn = sorted(p.name for p in out.rglob("vs_pairs_*.png"))
    assert drawn and all("remote" in name for name in drawn), drawn
    table = pd.read_csv(out / "summary.csv")
    remote = table[table["hosts"] == "remote"]
    assert sorted(remote["pairs"].unique()) == [1, 2], table.to_string()
    assert (remote["line_rate_bps"] == 10_000_000_000).all(), table.to_string()


def test_an_interrupted_remote_test_is_restored_and_rerun(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None, cable: Path
) -> None:
    before = cable_state()
    hosts = inventory(tmp_path)
    extravars = two_host_vars(tmp_path, labs=[split_lab(tmp_path)], duration=8)

    def sending() -> bool:
        return container_state("icpl-s0") == "RUNNING"

    killed = run_playbook_until(tmp_path / "first", "testset.yml", extravars, sending, hosts)

    assert killed.status == "canceled", killed.stdout[-3000:]
    assert not list((tmp_path / "results").rglob("test.json"))
    # The interrupted run left both hosts' parts behind.
    assert lab2_container_state("icpl-r0") == "RUNNING"
    assert own_state() != []

    rerun = run_playbook(tmp_path / "second", "testset.yml", extravars, inventory=hosts)

    assert rerun.rc == 0, rerun.stdout[-4000:]
    record = records(tmp_path / "results")["icpl-split"]
    assert record["status"] == "ok", record["reason"]
    got = summary(record["folder"] / "icpl-r0.recv.jsonl")
    assert got["rx"] == summary(record["folder"] / "icpl-s0.send.jsonl")["sent"] > 0
    assert host_state() == clean_host
    assert own_state() == []
    assert cable_state() == before
