"""Rate search end to end: testset.yml -e search=ndr,pdr through linux-bridge and basicfwd.

Every trial is a test with its folder and test.json, the search record lists each one,
and a second run of the same search re-uses every trial instead of running it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOST_TEST_MARKS, base_vars, host_state, run_playbook
from .test_dpdk_lab import SWITCH_BINARIES

pytestmark = HOST_TEST_MARKS

RECORDS = ("icpl-pair/search/32-linux-bridge-64.jsonl", "icpl-pair/search/c1-32-basicfwd-64.jsonl")


def search_vars(tmp: Path) -> dict[str, Any]:
    extravars = base_vars(
        tmp,
        search="ndr,pdr",
        pdr_loss=0.005,
        # Short trials and a coarse precision keep the test to a few minutes.
        duration=2,
        search_min_duration=1,
        search_precision=0.2,
        search_max_rate=1000000,
        vswitches="linux-bridge,basicfwd",
    )
    del extravars["rates"], extravars["vswitch"]
    return extravars


def record_runs(path: Path) -> list[list[dict[str, Any]]]:
    runs: list[list[dict[str, Any]]] = []
    for text in path.read_text().splitlines():
        line = json.loads(text)
        if line["type"] == "search":
            runs.append([])
        runs[-1].append(line)
    return runs


def trial_folders(results: Path) -> dict[str, float]:
    """Every test folder of the tree and its test.json's modification time."""
    return {
        test.parent.relative_to(results).as_posix(): test.stat().st_mtime
        for test in results.rglob("test.json")
    }


def test_search_finds_ndr_and_pdr_and_resumes(
    tmp_path: Path,
    clean_host: dict[str, Any],
    dpdk_host_lock: None,
) -> None:
    if not Path(SWITCH_BINARIES["basicfwd"]).exists():
        pytest.skip(f"needs {SWITCH_BINARIES['basicfwd']} (scripts/setup.sh installs it)")
    results = tmp_path / "results"
    run = run_playbook(tmp_path, "testset.yml", search_vars(tmp_path))
    assert run.rc == 0, run.stdout[-4000:]

    listed: set[str] = set()
    for record in RECORDS:
        (runs,) = [record_runs(results / record)]
        assert len(runs) == 1
        head, *trials, end = runs[0]
        assert head["spec"]["goals"] == ["ndr", "pdr"] and head["spec"]["duration"] == 2
        assert end["type"] == "result" and end["status"] == "ok", end
        ndr, pdr = end["results"]["ndr"], end["results"]["pdr"]
        assert ndr["found"] and pdr["found"], end
        assert 10000 <= ndr["rate"] <= pdr["rate"] <= 1000000
        assert end["trials"] == len(trials) >= 2
        # The first trial is short, at the maximum rate; the answer rests on full-length ones.
        assert (trials[0]["rate"], trials[0]["duration"]) == (1000000, 1)
        full = {t["rate"]: t for t in trials if t["duration"] == 2}
        assert full[ndr["rate"]]["loss_ratio"] == 0.0 == ndr["loss_ratio"]
        assert full[pdr["rate"]]["loss_ratio"] <= 0.005
        for number, line in enumerate(trials, start=1):
            assert (line["index"], line["status"], line["reused"]) == (number, "ok", False)
            test = json.loads((results / line["path"] / "test.json").read_text())
            assert test["status"] == "ok", test["reason"]
            assert (test["params"]["rate"], test["params"]["duration"]) == (
                line["rate"], line["duration"],
            )  # fmt: skip
            mark = test["search_trial"]
            assert mark["index"] == number and mark["phase"] == line["phase"]
            assert set(mark["goal"].split(",")) <= {"ndr", "pdr"}
            assert (results / line["path"] / "icpl-r0.recv.jsonl").is_file()
            listed.add(line["path"])
    # The records list every trial, and every test of the tree is a listed trial.
    folders = trial_folders(results)
    assert set(folders) == listed

    again = run_playbook(tmp_path, "testset.yml", {**search_vars(tmp_path), "provision": False})
    assert again.rc == 0, again.stdout[-4000:]
    assert trial_folders(results) == folders  # nothing run again, nothing rewritten
    for record in RECORDS:
        first, second = record_runs(results / record)
        assert [t["path"] for t in second[1:-1]] == [t["path"] for t in first[1:-1]]
        assert all(t["reused"] for t in second[1:-1])
        assert second[-1]["results"] == first[-1]["results"]
    assert host_state() == clean_host
