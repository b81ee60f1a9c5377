"""Rate search as a test-set mode: its parameters, its trials planned as tests, their loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import (
    identity,
    matrix,
    plan,
    ratesearch,
    searchplan,
)
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

HOST = {"cores": "0-7", "reserved": [0], "name": "lab1"}
LAB = {"pairs": 1}


def checked(**given: Any) -> dict[str, Any]:
    return searchplan.check_search({"duration": 10, **given})


def test_no_search_is_disabled_and_its_settings_alone_are_refused() -> None:
    assert checked() == {"enabled": False}
    assert checked(search="") == {"enabled": False}
    with pytest.raises(IcperfInputError, match=r"^search_precision: only applies to a rate search"):
        checked(search_precision=0.01)


def test_defaults_and_goals() -> None:
    both = checked(search="pdr,ndr")
    assert both == {
        "enabled": True, "goals": ["ndr", "pdr"], "pdr_loss": 0.005, "precision": 0.005,
        "min_duration": 1, "duration": 10, "min_rate": 10_000, "max_rate": 10_000_000,
    }  # fmt: skip
    assert checked(search=["ndr"])["goals"] == ["ndr"]
    given = checked(
        search="pdr", pdr_loss="0.01", search_precision="0.02", search_min_duration="2",
        search_min_rate=1000, search_max_rate="50000",
    )  # fmt: skip
    assert ratesearch.spec_from(given) == ratesearch.SearchSpec(
        ("pdr",), 0.01, 0.02, 2, 10, 1000, 50_000
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"search": "foo"}, r"^search: 'foo' is not a search goal"),
        ({"search": "ndr,ndr"}, r"^search: ndr appears more than once"),
        ({"search": 5}, r"^search: 5 is not ndr, pdr or ndr,pdr"),
        ({"search": "pdr", "pdr_loss": -0.1}, r"^pdr_loss: -0.1 must be >= 0 and < 1"),
        ({"search": "pdr", "pdr_loss": 1}, r"^pdr_loss: 1.0 must be >= 0 and < 1"),
        ({"search": "pdr", "pdr_loss": "lots"}, r"^pdr_loss: 'lots' is not a number"),
        ({"search": "ndr", "pdr_loss": 0.01}, r"^pdr_loss: only applies to search=pdr"),
        ({"search": "ndr", "search_precision": 0}, r"^search_precision: 0.0 must be > 0"),
        ({"search": "ndr", "search_precision": -1}, r"^search_precision: -1.0 must be > 0"),
        ({"search": "ndr", "search_precision": "nan"}, r"^search_precision: nan must be > 0"),
        ({"search": "ndr", "search_min_duration": 11}, r"^search_min_duration: 11 must be"),
        ({"search": "ndr", "search_min_duration": 1.5}, r"^search_min_duration: 1.5 is not"),
        ({"search": "ndr", "search_min_rate": 0}, r"^search_min_rate: 0 must be >= 1"),
        ({"search": "ndr", "search_max_rate": 10_000}, r"^search_max_rate: 10000 must be above"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(given: dict, message: str) -> None:
    with pytest.raises(IcperfInputError, match=message):
        checked(**given)


def test_a_controller_without_mlrsearch_is_told_in_the_first_play(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ratesearch, "HAVE_MLRSEARCH", False)
    with pytest.raises(IcperfInputError, match=r"^search: .* needs the Python package MLRsearch"):
        checked(search="ndr")
    assert checked() == {"enabled": False}


def test_a_search_picks_its_own_rates_and_runs_in_a_test_set_only() -> None:
    with pytest.raises(IcperfInputError, match=r"^rates: a search picks its rates itself"):
        searchplan.check_search({"search": "ndr", "rates": [1000]}, "testset", True)
    with pytest.raises(IcperfInputError, match=r"^search: run_test.yml runs one test"):
        searchplan.check_search({"search": "ndr"}, "single", False)
    assert searchplan.check_search({"search": "ndr"}, "testset", "False")["enabled"]


def configs(write_lab: Any, lab: Any = LAB, **given: Any) -> tuple[list, dict, dict]:
    path = write_lab("1vs1.yml", lab)
    params = {"vswitches": ["linux-bridge", "basicfwd"], "pkt_sizes": [64, 1500],
              "bursts": [32], "rates": [2_000_000], "labs": [path], "duration": 10,
              "switch_cores": [1], **given}  # fmt: skip
    labs = matrix.read_labs([path])
    plans = plan.plan_tests(matrix.test_matrix(params, labs), params, labs, HOST)
    search = searchplan.check_search({**params, "search": "ndr,pdr"})
    return searchplan.search_configs(plans, search), params, labs


def test_one_configuration_per_combination_with_its_record(write_lab: Any) -> None:
    found, _params, _labs = configs(write_lab)
    assert [c["search_record"] for c in found] == [
        "1vs1/search/32-linux-bridge-64.jsonl",
        "1vs1/search/32-linux-bridge-1500.jsonl",
        "1vs1/search/c1-32-basicfwd-64.jsonl",
        "1vs1/search/c1-32-basicfwd-1500.jsonl",
    ]
    assert searchplan.search_configs(found, {"enabled": False}) == []
    multi, _params, _labs = configs(write_lab, multi=True)
    assert multi[0]["search_record"] == "1vs1/search/multi-32-linux-bridge-64.jsonl"


def test_latency_labs_are_refused(write_lab: Any) -> None:
    with pytest.raises(IcperfInputError, match=r"^search: 1vs1 is a latency lab"):
        configs(write_lab, {"pairs": 1, "dimension": "latency"})


def step(rate: int, duration: int, phase: str = "short") -> dict[str, Any]:
    return {"done": False, "bounds": {},
            "trial": {"rate": rate, "duration": duration, "intended_duration": duration,
                      "phase": phase, "goals": ["ndr", "pdr"]}}  # fmt: skip


def test_a_trial_is_the_configurations_test_at_its_rate_and_duration(write_lab: Any) -> None:
    found, params, labs = configs(write_lab)
    bridge, _b1500, basicfwd, _f1500 = found
    trial = searchplan.search_trial(bridge, step(91708, 3), params, labs, HOST, None, 4)
    assert trial["path"] == "1vs1/d3/32/linux-bridge/64/91708"
    assert (trial["identity"]["rate"], trial["identity"]["duration"]) == (91708, 3)
    assert trial["record"]["params"]["rate"] == 91708
    sender = trial["containers"][0]["argv"]
    assert sender[sender.index("-r") + 1] == "91708" and sender[sender.index("-t") + 1] == "3"
    assert trial["record"]["search_trial"] == {
        "goal": "ndr,pdr", "phase": "short", "index": 4, "config": "32-linux-bridge-64",
        "intended_duration": 3,
    }  # fmt: skip
    # Planned exactly as the sweep plans the same test.
    swept = plan.plan_tests(
        matrix.test_matrix({**params, "rates": [91708], "duration": 3}, labs), params, labs, HOST
    )[0]
    assert {k: v for k, v in trial.items() if k != "record"} == {
        k: v for k, v in swept.items() if k != "record"
    }
    full = searchplan.search_trial(basicfwd, step(500_000, 10, "full"), params, labs, HOST)
    assert full["path"] == "1vs1/c1-d10/32/basicfwd/64/500000"
    assert full["settings"] == {"ring": 1024}  # the plan's poller settings, as in a sweep
    with pytest.raises(IcperfInputError, match=r"^step: "):
        searchplan.search_trial(bridge, {"done": True}, params, labs, HOST)


def test_trials_differ_by_identity_so_resume_reuses_only_the_same_trial(
    write_lab: Any, tmp_path: Path
) -> None:
    found, params, labs = configs(write_lab)
    short = searchplan.search_trial(found[0], step(91708, 1), params, labs, HOST)
    full = searchplan.search_trial(found[0], step(91708, 10), params, labs, HOST)
    other = searchplan.search_trial(found[0], step(91709, 10), params, labs, HOST)
    assert len({short["path"], full["path"], other["path"]}) == 3
    root = tmp_path / "results"
    write_trial(root / full["path"], full["record"], rx=1000)
    resume = identity.resume_plan([short, full, other], str(root))
    assert resume["done"] == [full["path"]]
    assert [t["path"] for t in resume["to_run"]] == [short["path"], other["path"]]
    assert resume["conflicts"] == []


def write_trial(folder: Path, record: dict, rx: int, status: str = "ok", sent: int = 1024) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {**record, "status": status, "reason": None if status == "ok" else "boom"}
    (folder / "test.json").write_text(json.dumps(doc), encoding="utf-8")
    counts = {"send": {"attempted": sent, "sent": sent}, "recv": {"rx": rx}}
    for app in record["apps"]:
        lines = [{"v": 1, "type": "start", "app": app["app"]},
                 {"v": 1, "type": "summary", "app": app["app"], **counts[app["app"]]}]  # fmt: skip
        (folder / app["log"]).write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_the_outcome_of_a_trial_is_read_from_its_folder(write_lab: Any, tmp_path: Path) -> None:
    found, params, labs = configs(write_lab)
    trial = searchplan.search_trial(found[0], step(100, 10), params, labs, HOST)
    folder = tmp_path / trial["path"]
    write_trial(folder, trial["record"], rx=990, sent=1000)
    outcome = searchplan.trial_outcome(str(folder))
    assert outcome["status"] == "ok"
    assert (outcome["offered"], outcome["received"], outcome["intended"]) == (1000, 990, 1000)
    assert outcome["loss_ratio"] == pytest.approx(0.01)
    write_trial(folder, trial["record"], rx=990, status="failed")
    assert searchplan.trial_outcome(str(folder)) == {
        "status": "failed", "reason": "boom", "loss_ratio": None,
    }  # fmt: skip
    write_trial(folder, trial["record"], rx=1000)
    (folder / trial["record"]["apps"][1]["log"]).write_text('{"v": 1, "type": "start"}\n')
    assert "no summary record in icp1.recv.jsonl" in searchplan.trial_outcome(str(folder))["reason"]
    assert searchplan.trial_outcome(str(tmp_path / "none"))["status"] == "failed"
