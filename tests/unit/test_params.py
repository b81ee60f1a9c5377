from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.params import (
    check_test_params,
    parse_bool,
)


@pytest.fixture
def lab_path(tmp_path: Path) -> Path:
    path = tmp_path / "pairs1.yml"
    path.write_text("pairs: 1\n", encoding="utf-8")
    return path


def base(lab_path: Path, **changes: object) -> dict[str, object]:
    params: dict[str, object] = {
        "vswitch": "ovs",
        "pkt_size": 64,
        "burst": 32,
        "rate": 1000000,
        "lab": str(lab_path),
    }
    params.update(changes)
    return {key: value for key, value in params.items() if value is not None}


def test_single_test_is_normalised_with_defaults(lab_path: Path) -> None:
    result = check_test_params(base(lab_path, extra="kept"))
    assert result == {
        "vswitch": "ovs",
        "vswitches": ["ovs"],
        "pkt_size": 64,
        "pkt_sizes": [64],
        "burst": 32,
        "bursts": [32],
        "rate": 1000000,
        "rates": [1000000],
        "lab": str(lab_path),
        "labs": [str(lab_path)],
        "switch_cores": [1],
        "duration": 60,
        "raw": False,
        "blocking": False,
        "consume": False,
        "multi": False,
        "debug": False,
        "xdp": False,
        "extra": "kept",
    }


def test_test_set_lists_and_strings(lab_path: Path, tmp_path: Path) -> None:
    second = tmp_path / "pairs2.yml"
    second.write_text("pairs: 2\n", encoding="utf-8")
    result = check_test_params({
        "vswitches": "linux-bridge ovs",
        "pkt_sizes": "64..448..1500",
        "bursts": [1, "32"],
        "rates": "100000 1000000",
        "labs": ["pairs1.yml", "pairs2.yml"],
        "switch_cores": "1 2",
        "duration": "10",
        "raw": "yes",
        "debug": True,
        "consume": 0,
    }, base_dir=str(tmp_path))
    assert result["vswitches"] == ["linux-bridge", "ovs"]
    assert result["pkt_sizes"] == [64, 512, 960, 1408]
    assert result["bursts"] == [1, 32]
    assert result["rates"] == [100000, 1000000]
    assert result["labs"] == [str(lab_path), str(second)]
    assert result["switch_cores"] == [1, 2]
    assert result["duration"] == 10
    assert (result["raw"], result["debug"], result["consume"]) == (True, True, False)
    for single in ("vswitch", "pkt_size", "burst", "rate", "lab"):
        assert single not in result


def test_relative_lab_is_taken_from_the_current_directory(
    lab_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(lab_path.parent)
    assert check_test_params(base(lab_path, lab="pairs1.yml"))["labs"] == [str(lab_path)]


def test_no_lab_gives_an_empty_list(lab_path: Path) -> None:
    params = base(lab_path)
    del params["lab"]
    assert check_test_params(params)["labs"] == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vswitch": "bess"}, "vswitch: unknown virtual switch 'bess' (known: linux-bridge, "),
        ({"vswitch": None, "vswitches": "ovs vpp ovs"}, "vswitches: ovs appears more than once"),
        ({"vswitch": None, "vswitches": []}, "vswitches: empty"),
        ({"vswitch": None}, "vswitches: missing"),
        ({"vswitches": ["ovs"]}, "vswitches: give either vswitch or vswitches, not both"),
        ({"vswitch": 3}, "vswitch: 3 is not a virtual switch name or a list"),
        ({"pkt_size": 63}, "pkt_size: 63 is out of range (must be between 64 and 1500)"),
        ({"pkt_size": None, "pkt_sizes": "64..500..1564"}, "pkt_sizes: 1564 is out of range"),
        ({"pkt_size": None}, "pkt_sizes: missing (give pkt_size or pkt_sizes)"),
        ({"pkt_size": "64..0..128"}, "pkt_size: '64..0..128': step must be > 0"),
        ({"burst": 0}, "burst: 0 is out of range (must be between 1 and 1024)"),
        ({"burst": 1025}, "burst: 1025 is out of range"),
        ({"rate": 0}, "rate: 0 is out of range (must be >= 1)"),
        ({"rate": -5}, "rate: -5 is out of range"),
        ({"rate": None, "rates": "1000 0"}, "rates: 0 is out of range"),
        ({"duration": 0}, "duration: 0 must be a whole number of seconds >= 1"),
        ({"duration": 1.5}, "duration: 1.5 must be"),
        ({"duration": "ten"}, "duration: 'ten' must be"),
        ({"raw": "maybe"}, "raw: 'maybe' is not a boolean"),
        ({"multi": 2}, "multi: 2 is not a boolean"),
        ({"lab": "/nonexistent/lab.yml"}, "lab: lab file /nonexistent/lab.yml does not exist"),
        ({"lab": ""}, "lab: '' is not a lab file path"),
        ({"lab": None, "labs": []}, "labs: empty list, give a lab file or leave labs out"),
        ({"lab": None, "labs": {"a": 1}}, "labs: {'a': 1} is not a lab file path or a list"),
        ({"switch_cores": "1..0..2"}, "switch_cores: '1..0..2': step must be > 0"),
        ({"switch_cores": -1}, "switch_cores: -1: counts must be >= 0"),
        ({"dimension": "jitter"}, "dimension: 'jitter' is not one of throughput, latency"),
    ],
)
def test_bad_input_names_the_variable(
    lab_path: Path, changes: dict[str, object], message: str
) -> None:
    params = base(lab_path)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    with pytest.raises(IcperfInputError) as caught:
        check_test_params(params)
    assert str(caught.value).startswith(message)


def test_duplicate_lab_is_refused(lab_path: Path) -> None:
    with pytest.raises(IcperfInputError, match=r"^labs: .* appears more than once"):
        check_test_params(base(lab_path, lab=None, labs=[str(lab_path), str(lab_path)]))


def test_params_must_be_a_mapping() -> None:
    with pytest.raises(IcperfInputError, match=r"^params: "):
        check_test_params(["ovs"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("yes", True), ("On", True), (1, True), (False, False), ("no", False),
     ("", False), (0, False)],
)
def test_parse_bool(value: object, expected: bool) -> None:
    assert parse_bool(value, "flag") is expected
