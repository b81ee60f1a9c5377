"""run_test.yml from the controller against a guest host: the lab runs on another machine.

One linux-bridge test (the shipped 1vs1 lab, 64-byte packets, 10 kpps, a few seconds) with
provisioning as a user runs it: icperf built in the guest from the checkout's sources (the
AF_XDP transport included: libxdp, libbpf and clang are in the image), LXC and the shared
rootfs set up there, the containers and the bridge started there, the logs and test.json
brought back to the controller's results directory. The guest has one vCPU, so its
inventory entry leaves no core reserved (``icperf_reserved_cores: []``): switch, sender and
receiver share core 0, as the plan's shared-core warning says.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from integration.records import read_records, summary

from .conftest import SYSTEM_MARKS, TIMINGS, run_playbook
from .harness import REPO, Guest, GuestPool

pytestmark = SYSTEM_MARKS

RATE = 10000
DURATION = 5
PKT_SIZE = 64
BURST = 32
# labs/1vs1.yml: containers icp0 (send) and icp1 (recv); the bridge keeps its default name.
CONTAINERS = ("icp0", "icp1")
BRIDGE = "icpbr0"
# lab_state of a host without the lab.
NOTHING: dict[str, list[str]] = {"container": [], "run_dir": [], "link": []}
RESULT_PATH = f"1vs1/d{DURATION}/{BURST}/linux-bridge/{PKT_SIZE}/{RATE}"


def lab_state(run: Any) -> dict[str, list[str]]:
    """What a test of the lab leaves on a host while it runs: its containers, their run
    directories, the bridge and the containers' host veths. ``run`` runs a shell command."""
    names = " ".join(CONTAINERS)
    veths = " ".join(f"icpv-{name}" for name in CONTAINERS)
    out = run(
        f"for c in {names}; do lxc-info -n $c >/dev/null 2>&1 && echo container $c; "
        f"test -e /var/lib/icperf/run/$c && echo run_dir $c; done; "
        f"for l in {BRIDGE} {veths}; do ip link show dev $l >/dev/null 2>&1 && echo link $l; "
        "done; true"
    )
    state: dict[str, list[str]] = {"container": [], "run_dir": [], "link": []}
    for line in out.splitlines():
        kind, name = line.split()
        state[kind].append(name)
    return state


def controller(command: str) -> str:
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, check=True
    ).stdout


def guest_shell(guest: Guest) -> Any:
    return lambda command: guest.ssh(command).stdout


@pytest.fixture(scope="module")
def guest(guest_pool: GuestPool) -> Guest:
    return guest_pool.guests[0]


@pytest.fixture(scope="module")
def inventory(guest_pool: GuestPool, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness's inventory with what a user's one-vCPU lab host needs: no reserved core."""
    data = json.loads(guest_pool.inventory.read_text())
    for host in data["all"]["children"]["icperf_hosts"]["hosts"].values():
        host["icperf_reserved_cores"] = []
    path = tmp_path_factory.mktemp("run-test") / "inventory.yml"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def test_run_test_runs_the_lab_on_the_guest(guest: Guest, inventory: Path, tmp_path: Path) -> None:
    controller_before = lab_state(controller)
    results = tmp_path / "results"
    extravars = {
        "vswitch": "linux-bridge",
        "lab": str(REPO / "labs" / "1vs1.yml"),
        "pkt_size": PKT_SIZE,
        "burst": BURST,
        "rate": RATE,
        "duration": DURATION,
        "results_dir": str(results),
    }

    run = run_playbook(tmp_path, inventory, "run_test.yml", extravars)

    TIMINGS["run_test.yml on the guest, provisioning included (s)"] = run.seconds
    assert run.rc == 0, run.stdout[-6000:]
    assert run.stats["ok"].keys() == {"guest0"}

    # The results and logs are on the controller.
    folder = results / RESULT_PATH
    record = json.loads((folder / "test.json").read_text())
    assert record["status"] == "ok", record["reason"]
    assert record["id"] == RESULT_PATH
    assert record["params"]["vswitch"] == "linux-bridge"
    assert record["params"]["rate"] == RATE
    apps = {(app["container"], app["app"]): folder / app["log"] for app in record["apps"]}
    assert set(apps) == {("icp0", "send"), ("icp1", "recv")}
    # Planned for the guest's one core, which sender and receiver share.
    for app in record["apps"]:
        assert (app["host"], app["cpus"], app["shared_cores"]) == ("guest0", [0], True), app
    sent = summary(apps["icp0", "send"])
    received = summary(apps["icp1", "recv"])
    assert sent["reason"] == "duration"
    # How fast a one-vCPU TCG guest sends is no concern here; that it sends is.
    assert sent["sent"] > 0, sent
    seconds = [r for r in read_records(apps["icp0", "send"]) if r["type"] == "second"]
    assert len(seconds) == DURATION
    # Every packet the sender's socket accepted arrived, in order.
    assert received["rx"] == sent["sent"], (sent, received)
    assert received["lost"] == 0 and received["reordered"] == 0, received

    # test.json describes the guest, not the controller.
    host = record["host"]
    assert host["hostname"] == guest.ssh("uname -n").stdout.strip()
    assert host["hostname"] != socket.gethostname()
    assert host["kernel"] == guest.ssh("uname -r").stdout.strip()
    assert host["cmdline"] == guest.read("/proc/cmdline").strip()
    assert host["cores"] == 1
    # The build recorded in the guest (icperf has no --version: its sources' checksum).
    checksum = guest.read("/var/lib/icperf/native.sha256").strip()
    assert record["versions"]["icperf"] == f"sources sha256:{checksum[:12]}"

    # icperf was built and installed in the guest, which the test left without its
    # containers, run directories, bridge and veths; the controller never had any.
    installed = guest.ssh(
        "test -x /usr/local/bin/icperf && test -x /var/lib/icperf/rootfs/usr/local/bin/icperf",
        check=False,
    )
    assert installed.returncode == 0
    assert lab_state(guest_shell(guest)) == NOTHING
    assert lab_state(controller) == controller_before == NOTHING
