"""Rate searches in the report: the search records read, the NDR/PDR table and figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from icperf_analysis import search
from icperf_analysis.cli import main

from analysis_trees import throughput_test

RECORD = "1vs1/search/32-linux-bridge-64.jsonl"
IDENTITY = {
    "lab": "1vs1",
    "vswitch": "linux-bridge",
    "pkt_size": 64,
    "burst": 32,
    "switch_cores": 0,
    **dict.fromkeys(("raw", "blocking", "consume", "multi", "debug", "xdp"), False),
    "dimension": "throughput",
}
SPEC = {
    "goals": ["ndr", "pdr"],
    "pdr_loss": 0.005,
    "precision": 0.01,
    "min_duration": 1,
    "duration": 12,
    "min_rate": 10000,
    "max_rate": 2000000,
}


def trial(
    index: int, rate: int, duration: int, loss: float, reused: bool = False, run: str = "r1"
) -> dict[str, Any]:
    return {
        "type": "trial",
        "run": run,
        "index": index,
        "goal": "ndr,pdr",
        "phase": "full",
        "rate": rate,
        "duration": duration,
        "intended_duration": float(duration),
        "path": f"1vs1/d{duration}/32/linux-bridge/64/{rate}",
        "reused": reused,
        "status": "ok",
        "reason": None,
        "loss_ratio": loss,
        "bounds_before": {},
    }


def result(ndr: int, pdr: int, trials: int, run: str = "r1") -> dict[str, Any]:
    return {
        "type": "result",
        "run": run,
        "status": "ok",
        "reason": None,
        "trials": trials,
        "results": {
            "ndr": {
                "found": True,
                "rate": ndr,
                "upper": 90000,
                "loss_target": 0.0,
                "loss_ratio": 0.0,
                "clamped": False,
            },
            "pdr": {
                "found": True,
                "rate": pdr,
                "upper": 95000,
                "loss_target": 0.005,
                "loss_ratio": 0.004,
                "clamped": False,
            },
        },
        "bounds": {},
    }


def write_record(root: Path, lines: list[dict[str, Any]]) -> None:
    path = root / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def first_run() -> list[dict[str, Any]]:
    return [
        {"type": "search", "run": "r1", "config": RECORD, "identity": IDENTITY, "spec": SPEC},
        trial(1, 2000000, 1, 0.9),
        trial(2, 85000, 12, 0.0),
        trial(3, 92000, 12, 0.004),
        trial(4, 96000, 12, 0.02),
        result(85000, 92000, 4),
    ]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    throughput_test(
        root,
        [85000.0],
        folder="1vs1/d12/32/linux-bridge/64/85000",
        rate=85000,
        vswitch="linux-bridge",
        switch_cores=0,
    )
    write_record(root, first_run())
    return root


def test_the_table_has_one_row_per_configuration_and_goal(tree: Path) -> None:
    found = search.load(tree)
    rows = found.results.set_index("goal")
    assert list(rows.index) == ["ndr", "pdr"]
    assert rows.loc["ndr", "rate"] == 85000 and rows.loc["pdr", "rate"] == 92000
    assert rows.loc["ndr", "confirm_path"] == "1vs1/d12/32/linux-bridge/64/85000"
    assert rows.loc["pdr", "confirm_loss_ratio"] == 0.004
    assert rows.loc["ndr", "trials"] == 4 and rows.loc["ndr", "trials_run"] == 4
    assert rows.loc["ndr", "trial_seconds"] == 1 + 3 * 12
    assert (rows["vswitch"] == "linux-bridge").all() and (rows["pkt_size"] == 64).all()
    assert list(found.trials["rate"]) == [2000000, 85000, 92000, 96000]
    assert found.records == ["1vs1/search"]


def test_a_resumed_run_is_reported_and_an_unfinished_one_only_when_alone(tree: Path) -> None:
    resumed = [
        {"type": "search", "run": "r2", "config": RECORD, "identity": IDENTITY, "spec": SPEC},
        trial(1, 2000000, 1, 0.9, True, "r2"),
        trial(2, 85000, 12, 0.0, True, "r2"),
        trial(3, 91000, 12, 0.0, False, "r2"),
        result(91000, 92000, 3, "r2"),
        {"type": "search", "run": "r3", "config": RECORD, "identity": IDENTITY, "spec": SPEC},
        trial(1, 2000000, 1, 0.9, True, "r3"),
    ]
    write_record(tree, first_run() + resumed)
    rows = search.load(tree).results.set_index("goal")
    assert rows.loc["ndr", "rate"] == 91000
    assert (rows.loc["ndr", "trials"], rows.loc["ndr", "trials_run"]) == (3, 1)
    write_record(tree, resumed[-2:])
    rows = search.load(tree).results.set_index("goal")
    assert rows.loc["ndr", "status"] == "unfinished" and not rows.loc["ndr", "found"]


def test_the_report_has_the_ndr_pdr_table_and_a_figure_per_switch_and_size(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert main([str(tree), "--out", str(out), "--warmup", "1", "--cooldown", "1"]) == 0
    table = pd.read_csv(out / "search.csv")
    assert list(table["goal"]) == ["ndr", "pdr"] and list(table["rate"]) == [85000, 92000]
    assert (out / "figures" / "rate_search_Vlinux-bridge_P64.png").is_file()
    page = (out / "report.html").read_text()
    assert "NDR and PDR (rate search)" in page
    assert page.count("<img") >= 1 and "85000" in page
    # The record's folder is no test, and not reported as a folder ignored.
    assert "1vs1/search" not in capsys.readouterr().err


def test_a_switch_left_out_takes_its_searches_along(tree: Path) -> None:
    found = search.load(tree)
    assert search.without_vswitches(found, ["ovs"]).results.equals(found.results)
    gone = search.without_vswitches(found, ["linux-bridge"])
    assert gone.empty and gone.trials.empty
    assert len(found.trials) == 4


def test_a_tree_without_searches_has_no_section(tmp_path: Path) -> None:
    root = tmp_path / "results"
    throughput_test(root, [1000.0])
    out = tmp_path / "report"
    assert main([str(root), "--out", str(out), "--no-figures"]) == 0
    assert "rate search" not in (out / "report.html").read_text()
    assert pd.read_csv(out / "search.csv").empty


def test_a_corrupt_record_is_refused_naming_its_line(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / RECORD).write_text('{"type": "search"}\nnot json\n')
    assert main([str(tree), "--out", str(tmp_path / "r")]) == 2
    assert f"{RECORD}: line 2: not JSON" in capsys.readouterr().err
    (tree / RECORD).write_text('{"type": "other"}\n')
    with pytest.raises(search.InputError, match="line 1: not a search, trial or result line"):
        search.load(tree)
