from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from icperf_analysis.aggregate import Aggregates
from icperf_analysis.errors import InputError
from icperf_analysis.load import PARAM_COLUMNS, Dataset, load_results

from analysis_trees import params, throughput_test, write_test


def test_every_test_json_is_found(icperf_result: tuple[Dataset, Aggregates]) -> None:
    dataset = icperf_result[0]
    assert len(dataset.tests) == 10
    assert set(dataset.tests["source"]) == {"icperf"}
    assert "2vs2/32/linux-bridge/64/1000000" in set(dataset.tests["id"])


def test_tests_are_found_by_walking_not_by_path_shape(tmp_path: Path, icperf_tree: Path) -> None:
    shutil.copytree(icperf_tree / "32/linux-bridge/64/1000000", tmp_path / "a" / "deep" / "run")
    dataset = load_results(tmp_path)
    assert list(dataset.tests["id"]) == ["32/linux-bridge/64/1000000"]
    assert list(dataset.tests["path"]) == ["a/deep/run"]
    assert dataset.tests.loc[0, "pkt_size"] == 64  # from test.json, not from the folder names


def test_per_second_table_is_tidy(icperf_result: tuple[Dataset, Aggregates]) -> None:
    dataset = icperf_result[0]
    table = dataset.per_second()
    assert len(table) == len(dataset.seconds) == int(dataset.apps["n_seconds"].sum())
    for column in ("id", "source", *PARAM_COLUMNS, "container", "app", "role", "sec", "rx"):
        assert column in table.columns
    assert not table.duplicated(["id", "container", "sec"]).any()
    one = table[(table["id"] == "32/linux-bridge/64/1000000") & (table["role"] == "recv")]
    assert list(one["sec"]) == list(range(1, 15))
    assert (one["vswitch"] == "linux-bridge").all()
    assert one["sent"].isna().all()  # a receiver reports no sent packets: NaN, not 0


def test_host_facts_and_versions_are_columns(icperf_result: tuple[Dataset, Aggregates]) -> None:
    tests = icperf_result[0].tests
    assert set(tests["host_kernel"]) == {"6.1.0-27-amd64"}
    assert set(tests["versions_lxc"]) == {"5.0.2"}


def test_missing_receiver_log_is_partial(icperf_result: tuple[Dataset, Aggregates]) -> None:
    tests = icperf_result[0].tests.set_index("id")
    row = tests.loc["32/linux-bridge/1024/1000000"]
    assert row["partial"]
    assert row["problems"] == "icp1.recv.jsonl: log missing"
    failed = tests.loc["32/ovs/64/1000000"]
    assert failed["status"] == "failed"
    assert not failed["partial"]  # a failed test is expected to lack logs


def test_pairs_disagreeing_with_apps_is_partial(tmp_path: Path) -> None:
    folder = throughput_test(tmp_path, [1000.0])
    doc = json.loads((folder / "test.json").read_text())
    doc["params"]["pairs"] = 2
    (folder / "test.json").write_text(json.dumps(doc))
    tests = load_results(tmp_path).tests
    assert tests.loc[0, "problems"] == "params.pairs is 2 but 1 recv app(s) are listed"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "test.json schema version 2 is not supported"),
        ({"status": "maybe"}, "status 'maybe' is not one of"),
        ({"apps": None}, "key 'apps' missing or not a list"),
        ({"params": {"vswitch": "ovs"}}, "params.pairs missing or not a positive integer"),
        ({"apps": [{"app": "ping", "log": "x"}]}, "apps[0].app 'ping' is not send, recv"),
    ],
)
def test_bad_test_json_is_refused_naming_the_file(tmp_path: Path, change: dict[str, object],
                                                   message: str) -> None:
    folder = write_test(tmp_path / "t", params(), [])
    doc = json.loads((folder / "test.json").read_text()) | change
    (folder / "test.json").write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        load_results(tmp_path)
    assert str(folder / "test.json") in str(info.value)
    assert message in str(info.value)


def test_unreadable_test_json(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "test.json").write_text('{"v": 1, "id": ')
    with pytest.raises(InputError, match="cannot read test description"):
        load_results(tmp_path)


def test_empty_and_foreign_directories(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory is empty"):
        load_results(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("buy milk\n")
    with pytest.raises(InputError, match="not an icperf results directory"):
        load_results(tmp_path)
    with pytest.raises(InputError, match="no such directory"):
        load_results(tmp_path / "absent")


def test_old_and_new_results_in_one_tree(tmp_path: Path, icperf_tree: Path,
                                         thesis_tree: Path) -> None:
    shutil.copytree(icperf_tree, tmp_path / "new")
    shutil.copytree(thesis_tree, tmp_path / "old")
    dataset = load_results(tmp_path)
    assert dataset.tests["source"].value_counts().to_dict() == {"icperf": 10, "thesis": 5}
    table = dataset.per_second()
    assert set(table["source"]) == {"icperf", "thesis"}
    assert np.isin(table["role"].unique(), ["send", "recv", "client", "server"]).all()


def test_folders_holding_no_test_are_listed(tmp_path: Path, icperf_tree: Path) -> None:
    shutil.copytree(icperf_tree / "32/linux-bridge/64/1000000", tmp_path / "ok")
    orphan = tmp_path / "32/ovs/64/1000000"
    shutil.copytree(icperf_tree / "32/linux-bridge/64/1000000", orphan)
    (orphan / "test.json").unlink()  # logs without their description are no test
    dataset = load_results(tmp_path)
    assert len(dataset.tests) == 1
    assert dataset.ignored == ["32/ovs/64/1000000"]
