"""vswitch_linux_bridge with an uplink NIC: refused while the NIC is in use, enslaved while
the bridge runs, and put back as it was by stop.

The uplink here is one end of a veth pair made for the test (the two-guest system test
uses the igb cabled to the other guest, tests/guests/test_system_wire.py).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import BRIDGE, HOST_TEST_MARKS, run_playbook, sysctls

pytestmark = HOST_TEST_MARKS

PLAYBOOK = "tests/guests/playbooks/bridge_uplink.yml"
UPLINK, PEER, OTHER_BRIDGE = "icpl-up0", "icpl-up1", "icplbr9"


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


def nic() -> dict[str, Any]:
    link = json.loads(ip("-j", "link", "show", "dev", UPLINK))[0]
    return {"master": link.get("master"), "up": "UP" in link["flags"]}


def bridge_exists(name: str = BRIDGE) -> bool:
    return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0


@pytest.fixture
def uplink() -> Iterator[str]:
    for name in (UPLINK, BRIDGE, OTHER_BRIDGE):
        subprocess.run(["ip", "link", "del", name], capture_output=True)
    ip("link", "add", UPLINK, "type", "veth", "peer", "name", PEER)
    yield UPLINK
    for name in (UPLINK, BRIDGE, OTHER_BRIDGE):
        subprocess.run(["ip", "link", "del", name], capture_output=True)


def bridge_vars(tmp: Path, **given: Any) -> dict[str, Any]:
    return {"icperf_wire_nic": UPLINK, "vswitch_linux_bridge_name": BRIDGE,
            "vswitch_linux_bridge_state_file": str(tmp / "bridge.json"), **given}  # fmt: skip


def messages(run: Any) -> list[str]:
    return [str(f["event_data"].get("res", {}).get("msg", "")) for f in run.failures()]


@pytest.mark.parametrize("was_up", [False, True], ids=["down", "up"])
def test_the_uplink_joins_the_bridge_and_is_put_back(
    tmp_path: Path, uplink: str, was_up: bool
) -> None:
    if was_up:
        ip("link", "set", uplink, "up")
    before, kernel = nic(), sysctls()

    started = run_playbook(tmp_path, PLAYBOOK, bridge_vars(tmp_path))

    assert started.rc == 0, started.stdout[-3000:]
    assert nic() == {"master": BRIDGE, "up": True}
    saved = json.loads((tmp_path / "bridge.json").read_text())
    assert saved["uplink"] == {"name": uplink, "up": was_up}
    # A second start (a test after an interrupted one) keeps what the first one found.
    again = run_playbook(tmp_path, PLAYBOOK, bridge_vars(tmp_path))
    assert again.rc == 0, again.stdout[-3000:]
    assert json.loads((tmp_path / "bridge.json").read_text())["uplink"]["up"] is was_up

    stopped = run_playbook(tmp_path, PLAYBOOK, bridge_vars(tmp_path, bridge_entry="stop"))

    assert stopped.rc == 0, stopped.stdout[-3000:]
    assert nic() == before == {"master": None, "up": was_up}
    assert not bridge_exists()
    assert not (tmp_path / "bridge.json").exists()
    assert sysctls() == kernel


def test_an_uplink_in_use_is_refused_before_any_change(tmp_path: Path, uplink: str) -> None:
    ip("addr", "add", "10.97.0.1/24", "dev", uplink)
    ip("link", "set", uplink, "up")
    cases = [
        ({}, f"vswitch_linux_bridge_uplink: {uplink} carries IPv4 routes"),
        ({"bridge_uplink": "0000:07:00.0"},
         "vswitch_linux_bridge_uplink: 0000:07:00.0 is not a network device of this host"),
    ]  # fmt: skip
    for given, message in cases:
        before, kernel = nic(), sysctls()
        run = run_playbook(tmp_path, PLAYBOOK, bridge_vars(tmp_path, **given))
        assert run.rc != 0
        assert message in messages(run), messages(run)
        assert (nic(), sysctls()) == (before, kernel)
        assert not bridge_exists()
        assert not (tmp_path / "bridge.json").exists()

    ip("addr", "flush", "dev", uplink)
    ip("link", "add", OTHER_BRIDGE, "type", "bridge")
    ip("link", "set", uplink, "master", OTHER_BRIDGE)
    run = run_playbook(tmp_path, PLAYBOOK, bridge_vars(tmp_path))
    assert run.rc != 0
    assert f"vswitch_linux_bridge_uplink: {uplink} is enslaved to {OTHER_BRIDGE}" in messages(run)
    assert nic()["master"] == OTHER_BRIDGE
    assert not bridge_exists()
