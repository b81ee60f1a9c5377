"""Result identity and resume: a folder's record is compared by parameters, never by path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import identity
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

IDENTITY = {
    "dimension": "throughput", "hosts": "local", "pairs": 1, "lab": "1vs1", "lab_sha256": "ab",
    "vswitch": "linux-bridge", "pkt_size": 64, "rate": 1000, "burst": 32, "duration": 60,
    "raw": False, "blocking": False, "consume": False, "multi": False, "debug": False,
    "xdp": False, "switch_cores": 0,
}  # fmt: skip
PATH = "1vs1/32/linux-bridge/64/1000"


def planned(**changes: Any) -> dict[str, Any]:
    return {"path": PATH, "identity": {**IDENTITY, **changes}}


def record(root: Path, params: dict[str, Any], status: str = "ok", path: str = PATH) -> None:
    folder = root / path
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"v": 1, "id": path, "params": params, "status": status, "end": "2026-12-01T10:00:00Z"}
    (folder / "test.json").write_text(json.dumps(doc), encoding="utf-8")


def test_identity_keys_cover_every_flag_duration_cores_and_lab() -> None:
    assert set(identity.IDENTITY_KEYS) == set(IDENTITY)


def test_an_empty_folder_runs(tmp_path: Path) -> None:
    decision = identity.resume_plan([planned()], str(tmp_path))
    assert decision == {"to_run": [{**planned(), "replace": ""}], "done": [], "conflicts": []}


def test_the_same_test_recorded_ok_is_done_and_rerun_only_under_force(tmp_path: Path) -> None:
    record(tmp_path, {**IDENTITY, "lab_file": "/elsewhere/1vs1.yml"})
    assert identity.resume_plan([planned()], str(tmp_path))["done"] == [PATH]
    forced = identity.resume_plan([planned()], str(tmp_path), force="true")
    assert forced["to_run"] == [{**planned(), "replace": "rerun"}]
    assert forced["done"] == []


def test_the_same_test_recorded_failed_is_rerun(tmp_path: Path) -> None:
    record(tmp_path, IDENTITY, status="failed")
    decision = identity.resume_plan([planned()], str(tmp_path))
    assert decision["to_run"] == [{**planned(), "replace": "rerun"}]


def test_another_tests_result_is_a_conflict_naming_both(tmp_path: Path) -> None:
    record(tmp_path, {**IDENTITY, "multi": True})
    decision = identity.resume_plan([planned()], str(tmp_path))
    assert decision["to_run"] == [] and decision["done"] == []
    assert decision["conflicts"] == [
        f"{PATH}: holds a result of another test (multi=True (planned: False)); move it away "
        "or pass force=true to move it aside"
    ]


def test_force_moves_another_tests_result_aside(tmp_path: Path) -> None:
    record(tmp_path, {**IDENTITY, "duration": 10})
    decision = identity.resume_plan([planned()], str(tmp_path), True)
    assert decision["conflicts"] == []
    assert decision["to_run"] == [
        {**planned(), "replace": "aside", "aside": f"{PATH}.replaced-2026-12-01T100000Z"}
    ]


def test_a_changed_lab_is_another_test(tmp_path: Path) -> None:
    record(tmp_path, {**IDENTITY, "lab_sha256": "cd"})
    conflicts = identity.resume_plan([planned()], str(tmp_path))["conflicts"]
    assert conflicts and "lab_sha256=cd (planned: ab)" in conflicts[0]


def test_older_records_are_read_with_their_defaults(tmp_path: Path) -> None:
    # Before identities: no lab digest, flags and numbers as strings, no hosts key.
    old = {key: value for key, value in IDENTITY.items() if key not in ("lab_sha256", "hosts")}
    old.update({"multi": "False", "rate": "1000", "duration": "60"})
    record(tmp_path, old)
    assert identity.resume_plan([planned()], str(tmp_path))["done"] == [PATH]
    assert identity.differences(planned(multi=True)["identity"], old) == [
        "multi=False (planned: True)"
    ]


def test_unreadable_record_counts_as_no_result(tmp_path: Path) -> None:
    folder = tmp_path / PATH
    folder.mkdir(parents=True)
    (folder / "test.json").write_text("{not json", encoding="utf-8")
    assert identity.resume_plan([planned()], str(tmp_path))["to_run"][0]["replace"] == ""


def test_results_dir_must_be_absolute() -> None:
    with pytest.raises(IcperfInputError, match=r"^results_dir: 'results' is not an absolute"):
        identity.resume_plan([], "results")


def test_lab_digest_ignores_layout_but_not_content() -> None:
    assert identity.lab_digest({"pairs": 1, "subnet": "10.0.3.0/24"}) == identity.lab_digest(
        {"subnet": "10.0.3.0/24", "pairs": 1}
    )
    assert identity.lab_digest({"pairs": 1}) != identity.lab_digest({"pairs": 2})
