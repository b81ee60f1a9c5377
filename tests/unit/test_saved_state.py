"""The saved_state module: values saved once, kernel files set and put back, state removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args
from ansible_collections.icperf.lab.plugins.module_utils.savedstate import (
    SavedStateError,
    match_files,
    merge_saved,
    read_state,
    write_state,
)
from ansible_collections.icperf.lab.plugins.modules import saved_state


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    """A cpufreq tree of the shape the host_tuning role tunes."""
    root = tmp_path / "cpu"
    for relative, value in {
        "cpu0/cpufreq/scaling_governor": "powersave",
        "cpu1/cpufreq/scaling_governor": "schedutil",
        "intel_pstate/no_turbo": "0",
    }.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    return root


TUNING = {"cpu[0-9]*/cpufreq/scaling_governor": "performance", "intel_pstate/no_turbo": 1,
          "cpufreq/boost": "0"}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], check_mode: bool = False, **args: Any) -> dict:
    """Run the module as Ansible would; return its result (failed ones included)."""
    if check_mode:
        args["_ansible_check_mode"] = True
    # Warnings are kept per process: each run starts without the earlier runs' ones, and
    # as on a host (once other tests have loaded Ansible's controller side, warnings would
    # go to its display instead of the result).
    with (
        patch_module_args(args),
        mock.patch.object(warnings, "_global_warnings", {}),
        mock.patch.object(_internal, "is_controller", False),
        pytest.raises(SystemExit),
    ):
        saved_state.main()
    result = json.loads(capsys.readouterr().out)
    result.pop("invocation", None)
    result["warnings"] = [w["event"]["msg"] for w in result.get("warnings", [])]
    return result


def read(root: Path, relative: str) -> str:
    return (root / relative).read_text().strip()


def test_merge_keeps_what_was_saved_first() -> None:
    saved = {"a": 1, "files": {"/x": "0"}, "set": {"p": True}}
    new = {"a": 2, "b": 3, "files": {"/x": "1", "/y": "1"}, "set": {"q": True}}
    assert merge_saved(saved, new) == {
        "a": 1, "b": 3, "files": {"/x": "0", "/y": "1"}, "set": {"p": True, "q": True},
    }  # fmt: skip
    assert merge_saved({"a": None}, {"a": {"b": 1}}) == {"a": None}


def test_first_apply_saves_and_sets(capsys: pytest.CaptureFixture[str], sysfs: Path) -> None:
    state = sysfs.parent / "state" / "tuning.json"
    result = run(capsys, path=str(state), root=str(sysfs), files=TUNING)
    assert result["changed"] and not result["existed"]
    assert json.loads(state.read_text()) == {"files": {
        str(sysfs / "cpu0/cpufreq/scaling_governor"): "powersave",
        str(sysfs / "cpu1/cpufreq/scaling_governor"): "schedutil",
        str(sysfs / "intel_pstate/no_turbo"): "0",
    }}  # fmt: skip
    assert read(sysfs, "cpu1/cpufreq/scaling_governor") == "performance"
    assert read(sysfs, "intel_pstate/no_turbo") == "1"
    assert result["files"][str(sysfs / "intel_pstate/no_turbo")] == "1"
    assert oct(state.stat().st_mode & 0o777) == "0o644"


def test_later_applies_keep_the_first_values(
    capsys: pytest.CaptureFixture[str], sysfs: Path
) -> None:
    state = sysfs.parent / "tuning.json"
    run(capsys, path=str(state), root=str(sysfs), files=TUNING)
    first = state.read_text()
    again = run(capsys, path=str(state), root=str(sysfs), files=TUNING)
    assert not again["changed"] and again["existed"]
    # An interrupted run left the tuned values; the next apply must not save them.
    (sysfs / "intel_pstate/no_turbo").write_text("0\n")
    fixed = run(capsys, path=str(state), root=str(sysfs), files=TUNING)
    assert fixed["changed"] and state.read_text() == first
    assert read(sysfs, "intel_pstate/no_turbo") == "1"


def test_restore_writes_back_and_forgets(capsys: pytest.CaptureFixture[str], sysfs: Path) -> None:
    state = sysfs.parent / "tuning.json"
    run(capsys, path=str(state), root=str(sysfs), files=TUNING)
    result = run(capsys, path=str(state), state="absent")
    assert result["changed"] and result["existed"]
    assert read(sysfs, "cpu0/cpufreq/scaling_governor") == "powersave"
    assert read(sysfs, "cpu1/cpufreq/scaling_governor") == "schedutil"
    assert read(sysfs, "intel_pstate/no_turbo") == "0"
    assert not state.exists()
    assert run(capsys, path=str(state), state="absent") == {
        "changed": False, "saved": {}, "existed": False, "files": {}, "warnings": [],
    }  # fmt: skip


def test_restore_skips_a_knob_that_went_away(
    capsys: pytest.CaptureFixture[str], sysfs: Path
) -> None:
    state = sysfs.parent / "tuning.json"
    run(capsys, path=str(state), root=str(sysfs), files=TUNING)
    (sysfs / "cpu1/cpufreq/scaling_governor").unlink()
    result = run(capsys, path=str(state), state="absent")
    assert any("scaling_governor no longer exists" in w for w in result["warnings"])
    assert read(sysfs, "cpu0/cpufreq/scaling_governor") == "powersave"
    assert not state.exists()


def test_nothing_to_save_writes_no_state(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "tuning.json"
    result = run(capsys, path=str(state), root=str(tmp_path / "no-cpufreq"), files=TUNING)
    assert not result["changed"] and result["files"] == {} and not state.exists()


def test_values_are_saved_once_and_extended(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "ovs.json"
    first = {"ovsdb_was_running": False, "bridges": {"br0": True}}
    assert run(capsys, path=str(state), values=first)["changed"]
    later = {"ovsdb_was_running": True, "bridges": {"br1": True}, "other_config": {"k": None}}
    result = run(capsys, path=str(state), values=later)
    assert result["changed"]
    assert result["saved"] == {
        "ovsdb_was_running": False, "bridges": {"br0": True, "br1": True},
        "other_config": {"k": None},
    }  # fmt: skip
    assert read_state(str(state)) == result["saved"]
    queried = run(capsys, path=str(state), state="query")
    assert queried == {
        "changed": False, "saved": result["saved"], "existed": True, "files": {}, "warnings": [],
    }  # fmt: skip


def test_check_mode_changes_nothing(capsys: pytest.CaptureFixture[str], sysfs: Path) -> None:
    state = sysfs.parent / "tuning.json"
    result = run(capsys, check_mode=True, path=str(state), root=str(sysfs), files=TUNING)
    assert result["changed"] and not state.exists()
    assert result["files"][str(sysfs / "intel_pstate/no_turbo")] == "1"
    assert read(sysfs, "intel_pstate/no_turbo") == "0"
    run(capsys, path=str(state), root=str(sysfs), files=TUNING)
    assert run(capsys, check_mode=True, path=str(state), state="absent")["changed"]
    assert state.exists() and read(sysfs, "intel_pstate/no_turbo") == "1"


def test_a_broken_state_file_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "broken.json"
    state.write_text("[1, 2]\n")
    result = run(capsys, path=str(state), values={"a": 1})
    assert result["failed"] and result["msg"] == f"{state}: the saved state is not a JSON object"
    assert state.read_text() == "[1, 2]\n"


def test_a_bad_file_value_is_refused(capsys: pytest.CaptureFixture[str], sysfs: Path) -> None:
    result = run(capsys, path=str(sysfs / "s.json"), root=str(sysfs),
                 files={"intel_pstate/no_turbo": [1]})  # fmt: skip
    assert result["failed"]
    assert result["msg"] == "files[intel_pstate/no_turbo]: [1] is not a string or an integer"
    assert read(sysfs, "intel_pstate/no_turbo") == "0"


def test_only_files_match(sysfs: Path) -> None:
    # cpu[0-9]* also names the cpu directories themselves: only files are knobs.
    files = {"cpu[0-9]*": "x", "/nonexistent/*/boost": "0", **TUNING}
    assert list(match_files(files, str(sysfs))) == [
        str(sysfs / "cpu0/cpufreq/scaling_governor"),
        str(sysfs / "cpu1/cpufreq/scaling_governor"),
        str(sysfs / "intel_pstate/no_turbo"),
    ]


def test_a_state_that_cannot_be_written_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(SavedStateError, match=r"cannot save the state"):
        write_state(str(blocker / "state.json"), {"a": 1})
