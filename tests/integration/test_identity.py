"""Results cannot collide: a test's folder holds its identity, resume compares parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import HOST_TEST_MARKS, base_vars, host_state, run_playbook

pytestmark = HOST_TEST_MARKS

PLAIN = "icpl-pair/d3/32/linux-bridge/64/20000"
MULTI = "icpl-pair/multi-d3/32/linux-bridge/64/20000"


def _files(results: Path) -> dict[str, bytes]:
    return {
        path.relative_to(results).as_posix(): path.read_bytes()
        for path in sorted(results.rglob("*"))
        if path.is_file()
    }


def _record(results: Path, path: str) -> dict[str, Any]:
    return json.loads((results / path / "test.json").read_text(encoding="utf-8"))


def test_a_flag_is_another_test_and_never_overwrites_or_skips(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None
) -> None:
    results = tmp_path / "results"
    first = run_playbook(tmp_path / "1", "testset.yml", base_vars(tmp_path, provision=False))
    assert first.rc == 0, first.stdout[-3000:]
    plain = _files(results)
    assert _record(results, PLAIN)["params"]["multi"] is False

    # run_test.yml forces by default: it still may not touch the multi=false result.
    multi = run_playbook(
        tmp_path / "2", "run_test.yml", base_vars(tmp_path, provision=False, multi=True)
    )
    assert multi.rc == 0, multi.stdout[-3000:]
    after = _files(results)
    assert {key: value for key, value in after.items() if key.startswith(PLAIN)} == plain
    assert _record(results, MULTI)["params"]["multi"] is True
    assert _record(results, MULTI)["status"] == "ok"
    command = _record(results, MULTI)["apps"][0]["command"]
    assert "-m" in command

    # The plain sweep again: its own result is done; the multi one is not taken for it.
    again = run_playbook(tmp_path / "3", "testset.yml", base_vars(tmp_path, provision=False))
    assert again.rc == 0, again.stdout[-3000:]
    assert f"skipping test 1/1 {PLAIN}: already recorded ok" in again.stdout
    assert _files(results) == after
    assert host_state() == clean_host


def test_a_folder_holding_another_test_is_refused_then_moved_aside_under_force(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None
) -> None:
    results = tmp_path / "results"
    # A finished result in the planned folder whose lab file had other content.
    folder = results / PLAIN
    folder.mkdir(parents=True)
    other = {
        "v": 1, "id": PLAIN, "status": "ok", "end": "2026-11-30T08:00:00Z",
        "params": {"dimension": "throughput", "hosts": "local", "pairs": 1, "lab": "icpl-pair",
                   "lab_sha256": "0" * 64, "vswitch": "linux-bridge", "pkt_size": 64,
                   "rate": 20000, "burst": 32, "duration": 3, "switch_cores": 0},
    }  # fmt: skip
    (folder / "test.json").write_text(json.dumps(other), encoding="utf-8")
    (folder / "icpl-r0.recv.jsonl").write_text("{}\n", encoding="utf-8")
    kept = _files(results)

    refused = run_playbook(tmp_path / "1", "testset.yml", base_vars(tmp_path, provision=False))
    assert refused.rc != 0
    messages = [str(f["event_data"].get("res", {}).get("msg", "")) for f in refused.failures()]
    assert any(
        message.startswith(f"results_dir: {PLAIN}: holds a result of another test (lab_sha256=")
        for message in messages
    ), messages
    assert refused.plays() == ["Check the test set"]
    assert _files(results) == kept
    assert host_state() == clean_host

    forced = run_playbook(
        tmp_path / "2", "testset.yml", base_vars(tmp_path, provision=False, force=True)
    )
    assert forced.rc == 0, forced.stdout[-3000:]
    aside = f"{PLAIN}.replaced-2026-11-30T080000Z"
    assert {
        key.replace(aside, PLAIN): value
        for key, value in _files(results).items() if key.startswith(aside + "/")
    } == kept  # fmt: skip
    assert _record(results, PLAIN)["status"] == "ok"
    assert _record(results, PLAIN)["params"]["lab_sha256"] != "0" * 64
    assert host_state() == clean_host
