from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from icperf_analysis.errors import InputError
from icperf_analysis.records import read_log, role_of

from analysis_trees import log_text

DATA = Path(__file__).parent / "data"
SEND = [{"attempted": 10, "sent": 9, "dropped": 1}] * 3


def test_role_of_names_dpdk_twins_and_refuses_others() -> None:
    assert [role_of(a) for a in ("send", "dpdk-recv", "dpdk-client", "server")] == [
        "send", "recv", "client", "server"]
    assert role_of("iperf") is None


def test_complete_log_has_columns_summary_and_no_notes(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(log_text("send", SEND))
    log = read_log(path, "send")
    assert log.n_seconds == 3
    assert log.corrupt_lines == 0
    assert log.notes == []
    assert log.summary is not None and log.summary["sent"] == 27
    np.testing.assert_array_equal(log.seconds["sec"], [1, 2, 3])
    np.testing.assert_array_equal(log.seconds["dropped"], [1, 1, 1])


def test_truncated_and_corrupt_lines_are_skipped_and_counted() -> None:
    path = DATA / "icperf_tree/32/linux-bridge/512/1000000/icp1.recv.jsonl"
    log = read_log(path, "recv")
    assert log.corrupt_lines == 2  # second 7 cut mid-record, and the truncated last line
    assert log.n_seconds == 13
    assert 7 not in log.seconds["sec"]
    assert log.summary is None
    assert any("no summary record" in n for n in log.notes)
    assert any("2 corrupt" in n for n in log.notes)


@pytest.mark.parametrize(
    "bad",
    [
        '{"v":1,"type":"second","app":"send","sec":4,"attempted":"ten","sent":9,"dropped":1}',
        '{"v":1,"type":"second","app":"send","sec":4,"sent":9,"dropped":1}',
        '{"v":1,"type":"second","app":"send","sec":0,"attempted":10,"sent":9,"dropped":1}',
        '{"v":1,"type":"gossip","app":"send"}',
        '{"type":"second","app":"send","sec":4,"attempted":10,"sent":9,"dropped":1}',
        '[1, 2]',
        '{"v":1,"type":"second","app":"send","sec":4,"attempted":10,"sent":9,"dropped":1},{"v":1}',
    ],
    ids=["string-counter", "missing-field", "sec-zero", "unknown-type", "no-version", "array",
         "two-objects"],
)
def test_malformed_records_are_corrupt_not_zero(tmp_path: Path, bad: str) -> None:
    lines = log_text("send", SEND).splitlines()
    lines.insert(2, bad)
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n")
    log = read_log(path, "send")
    assert log.corrupt_lines == 1
    assert log.n_seconds == 3
    assert not np.isnan(log.seconds["attempted"]).any()


def test_blank_lines_are_not_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("\n" + log_text("send", SEND).replace("\n", "\n\n"))
    assert read_log(path, "send").corrupt_lines == 0


def test_unknown_record_version_is_refused_naming_file_and_version(tmp_path: Path) -> None:
    text = log_text("send", SEND)
    record = json.loads(text.splitlines()[2]) | {"v": 7}
    path = tmp_path / "s.jsonl"
    path.write_text(text + json.dumps(record) + "\n")
    with pytest.raises(InputError, match=r"s\.jsonl: record schema version 7 is not supported"):
        read_log(path, "send")


def test_client_histogram_and_null_rtts(tmp_path: Path) -> None:
    seconds = [{"attempted": 5, "sent": 5, "dropped": 0, "echoed": 0, "rtt_mean_ns": None},
               {"attempted": 5, "sent": 5, "dropped": 0, "echoed": 5, "rtt_mean_ns": 2000}]
    path = tmp_path / "c.jsonl"
    path.write_text(log_text("dpdk-client", seconds, buckets=[[1000, 2], [3000, 3]]))
    log = read_log(path, "client")
    assert log.corrupt_lines == 0
    assert np.isnan(log.seconds["rtt_mean_ns"][0])
    assert log.seconds["rtt_mean_ns"][1] == 2000
    np.testing.assert_array_equal(log.hist_values, [1000, 3000])
    np.testing.assert_array_equal(log.hist_counts, [2, 3])


def test_start_record_naming_another_app_is_noted(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(log_text("recv", [{"rx": 1}]))
    log = read_log(path, "send")
    assert any("start record names app 'recv'" in n for n in log.notes)


@pytest.mark.parametrize("buckets", [[1000, 2, 3000, 3], [[1000, 2, 1]], [[1000, -1]], "many"])
def test_malformed_histogram_is_corrupt(tmp_path: Path, buckets: object) -> None:
    seconds = [{"attempted": 5, "sent": 5, "dropped": 0, "echoed": 5, "rtt_mean_ns": 2000}]
    text = log_text("client", seconds)
    record = {"v": 1, "type": "hist", "app": "client", "unit": "ns", "buckets": buckets}
    path = tmp_path / "c.jsonl"
    path.write_text(text + json.dumps(record) + "\n")
    log = read_log(path, "client")
    assert not log.has_hist
    assert log.corrupt_lines == 1
    assert f"{path.name}: no hist record" in log.notes
