"""xdp=true in the lab: the containers' applets move their frames through AF_XDP sockets on
their veths, through a real linux bridge; switches whose containers have no kernel netdev
refuse the flag in the first play."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    HOST_TEST_MARKS,
    REPO,
    base_vars,
    host_state,
    read_records,
    run_playbook,
    summary,
)

pytestmark = HOST_TEST_MARKS

FIRST_PLAY = "Check the test set"
sys.path.insert(0, str(REPO / "tests" / "native"))
from icperf_xdp import kernel_has_xdp_sockets  # noqa: E402


def _messages(failures: list[dict[str, Any]]) -> list[str]:
    return [str(f["event_data"].get("res", {}).get("msg", "")) for f in failures]


def _refused_switch() -> str:
    """A switch of the traits table without socket applets on the kernel path."""
    collections = REPO / ".venv" / "collections"
    if not (collections / "ansible_collections" / "icperf" / "lab").exists():
        pytest.skip("the collection link is missing (run scripts/setup.sh)")
    sys.path.insert(0, str(collections))
    try:
        from ansible_collections.icperf.lab.plugins.module_utils import params, vswitches
    finally:
        sys.path.remove(str(collections))
    names = [n for n in vswitches.NAMES if not params.xdp_capable(vswitches.traits(n))]
    assert names, "every switch of the table takes xdp: nothing to refuse"
    return names[0]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"raw": True}, "xdp: xdp and raw are two transports"),
        ({"multi": True}, "xdp: multi (sendmmsg/recvmmsg) is a socket mode"),
        ({"vswitch": "other"}, "is a kernel-bypass switch"),
    ],
    ids=["with-raw", "with-multi", "kernel-bypass-switch"],
)
def test_xdp_is_refused_in_the_first_play(
    tmp_path: Path, clean_host: dict[str, Any], given: dict[str, Any], says: str
) -> None:
    if given.get("vswitch") == "other":
        given = {"vswitch": _refused_switch()}
    run = run_playbook(tmp_path, "testset.yml", base_vars(tmp_path, xdp=True, **given))

    assert run.rc != 0
    messages = _messages(run.failures())
    assert any(m.startswith("xdp: ") and says in m for m in messages), messages
    assert run.plays() == [FIRST_PLAY]
    assert host_state() == clean_host
    assert not (tmp_path / "results").exists()


def test_xdp_lab_delivers_every_packet(tmp_path: Path, clean_host: dict[str, Any]) -> None:
    if not kernel_has_xdp_sockets():
        pytest.skip("this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)")
    run = run_playbook(tmp_path, "testset.yml", base_vars(tmp_path, xdp=True))

    assert run.rc == 0, run.stdout[-4000:]
    folder = tmp_path / "results" / "icpl-pair/xdp-d3/32/linux-bridge/64/20000"
    record = json.loads((folder / "test.json").read_text())
    assert record["status"] == "ok", record["reason"]
    assert record["params"]["xdp"] is True
    for app in record["apps"]:
        command = app["command"]
        assert command[command.index("-X") + 1] == "eth0"
    for log in ("icpl-s0.send.jsonl", "icpl-r0.recv.jsonl"):
        start = read_records(folder / log)[0]
        assert start["transport"] == "xdp" and start["iface"] == "eth0", start
        assert start["xdp_mode"] == "native" and start["xdp_zerocopy"] is False, start
    sent = summary(folder / "icpl-s0.send.jsonl")
    received = summary(folder / "icpl-r0.recv.jsonl")
    assert sent["reason"] == "duration" and sent["sent"] == sent["attempted"] == 60000
    assert (received["rx"], received["lost"], received["reordered"]) == (sent["sent"], 0, 0)
    # The containers, their veths and so their programs are gone with the test.
    assert host_state() == clean_host
