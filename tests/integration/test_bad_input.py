"""Bad parameters fail in the first play, naming the variable, before any host change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import HOST_TEST_MARKS, base_vars, host_state, run_playbook

pytestmark = HOST_TEST_MARKS

FIRST_PLAYS = {"testset.yml": "Check the test set", "run_test.yml": "Check the test"}

# (playbook, variables to set, variables to drop, name the message must start with)
CASES = [
    ("testset.yml", {"vswitch": "nope"}, [], "vswitch"),
    ("testset.yml", {"vswitches": "linux-bridge nope"}, ["vswitch"], "vswitches"),
    ("testset.yml", {"pkt_sizes": "64..0..256"}, [], "pkt_sizes"),
    ("testset.yml", {"pkt_sizes": "64..32"}, [], "pkt_sizes"),
    ("testset.yml", {"pkt_sizes": "sixty-four"}, [], "pkt_sizes"),
    ("testset.yml", {"pkt_size": 63}, ["pkt_sizes"], "pkt_size"),
    ("testset.yml", {"pkt_sizes": "64 1501"}, [], "pkt_sizes"),
    ("testset.yml", {"bursts": 0}, [], "bursts"),
    ("testset.yml", {"rates": 0}, [], "rates"),
    ("testset.yml", {"rates": -5}, [], "rates"),
    ("testset.yml", {"labs": ["/nonexistent/icpl-missing.yml"]}, [], "labs"),
    ("testset.yml", {"duration": 0}, [], "duration"),
    ("run_test.yml", {"rate": "1000 2000"}, ["rates"], "rate"),
    ("run_test.yml", {"lab": "tests/integration/labs/icpl-nowhere.yml"}, ["labs"], "lab"),
    ("testset.yml", {"search": "foo"}, ["rates"], "search"),
    ("testset.yml", {"pdr_loss": 1, "search": "pdr"}, ["rates"], "pdr_loss"),
    ("testset.yml", {"search_precision": 0, "search": "ndr"}, ["rates"], "search_precision"),
    ("testset.yml", {"search": "ndr"}, [], "rates"),
    ("run_test.yml", {"search": "ndr"}, ["rates"], "search"),
]


def _message(event: dict[str, Any]) -> str:
    result = event["event_data"].get("res", {})
    return str(result.get("msg", ""))


@pytest.mark.parametrize(
    ("playbook", "given", "dropped", "name"),
    CASES,
    ids=[f"{case[0]}-{case[3]}={next(iter(case[1].values()))}" for case in CASES],
)
def test_bad_input_fails_first_naming_the_variable(
    tmp_path: Path,
    clean_host: dict[str, Any],
    playbook: str,
    given: dict[str, Any],
    dropped: list[str],
    name: str,
) -> None:
    extravars = base_vars(tmp_path)
    for key in dropped:
        extravars.pop(key)
    extravars.update(given)

    run = run_playbook(tmp_path, playbook, extravars)

    assert run.rc != 0
    failures = run.failures()
    assert failures, run.stdout[-3000:]
    assert {failure["event_data"]["play"] for failure in failures} == {FIRST_PLAYS[playbook]}
    messages = [_message(failure) for failure in failures]
    assert any(f"{name}: " in message for message in messages), messages
    # Nothing ran past the first play, and the host is as it was.
    assert run.plays() == [FIRST_PLAYS[playbook]]
    assert host_state() == clean_host
    assert not (tmp_path / "results").exists()


def test_check_mode_lists_the_tests_and_runs_nothing(
    tmp_path: Path, clean_host: dict[str, Any]
) -> None:
    run = run_playbook(
        tmp_path, "testset.yml", base_vars(tmp_path, pkt_sizes="64..448..1500"), cmdline="--check"
    )

    assert run.rc == 0, run.stdout[-3000:]
    for size in (64, 512, 960, 1408):
        assert f"icpl-pair/d3/32/linux-bridge/{size}/20000" in run.stdout
    assert "icpl-pair/d3/32/linux-bridge/1500/20000" not in run.stdout
    ran_after_check = [
        (e["event_data"]["play"], e["event_data"].get("task"))
        for e in run.events
        if e.get("event") in ("runner_on_ok", "runner_item_on_ok", "runner_on_failed")
        and e["event_data"].get("play") != FIRST_PLAYS["testset.yml"]
    ]
    assert ran_after_check == []
    assert "Remove containers left by an interrupted run" not in run.task_names()
    assert host_state() == clean_host
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("playbook", ["testset.yml", "run_test.yml"])
def test_a_list_cut_short_by_ansible_is_refused(
    tmp_path: Path, clean_host: dict[str, Any], playbook: str
) -> None:
    # The shell hands over "rates=20000 40000"; Ansible alone would run 20000 and drop 40000.
    extravars = base_vars(tmp_path)
    extravars.pop("rates")
    run = run_playbook(tmp_path, playbook, extravars, cmdline='-e "rates=20000 40000"')

    assert run.rc != 0
    messages = [_message(failure) for failure in run.failures()]
    assert any(
        message.startswith("rates: -e 'rates=20000 40000' gives rates=20000 and drops '40000'")
        and "rates=20000,40000" in message
        for message in messages
    ), messages
    assert run.plays() == [FIRST_PLAYS[playbook]]
    assert host_state() == clean_host
    assert not (tmp_path / "results").exists()
