"""The columnar reader (Arrow) gives what the reference reader (json module) gives, log by log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from icperf_analysis import columnar
from icperf_analysis.errors import InputError
from icperf_analysis.records import AppLog, read_log, role_of

from analysis_trees import log_text

DATA = Path(__file__).parent / "data"
SAMPLES = sorted((Path(__file__).parents[1] / "data" / "records").glob("*.jsonl"))
TREE_LOGS = sorted((DATA / "icperf_tree").rglob("*.jsonl"))
SEND = [{"attempted": 10, "sent": 9, "dropped": 1}] * 5
CLIENT = [{"attempted": 5, "sent": 5, "dropped": 0, "echoed": 5, "rtt_mean_ns": 2000,
           "rtt_p99_ns": None}] * 4


def _same(fast: AppLog, reference: AppLog) -> None:
    assert fast.n_seconds == reference.n_seconds
    assert fast.corrupt_lines == reference.corrupt_lines
    assert fast.notes == reference.notes
    assert fast.start == reference.start
    assert fast.summary == reference.summary
    assert fast.has_hist == reference.has_hist
    np.testing.assert_array_equal(fast.hist_values, reference.hist_values)
    np.testing.assert_array_equal(fast.hist_counts, reference.hist_counts)
    assert fast.seconds.keys() == reference.seconds.keys()
    for name, values in reference.seconds.items():
        assert fast.seconds[name].dtype == values.dtype
        np.testing.assert_array_equal(fast.seconds[name], values, err_msg=name)


def _role(path: Path) -> str:
    role = role_of(path.name.split(".")[-2])
    assert role is not None
    return role


@pytest.mark.parametrize("path", SAMPLES + TREE_LOGS,
                         ids=[str(p.relative_to(p.parents[1])) for p in SAMPLES + TREE_LOGS])
def test_every_sample_and_tree_log_reads_as_the_reference(path: Path) -> None:
    role = _role(path) if path in TREE_LOGS else role_of(path.stem)
    assert role is not None
    [fast] = columnar.read_logs([(path, role)])
    _same(fast, read_log(path, role))


def test_clean_logs_take_the_columnar_path(tmp_path: Path) -> None:
    paths = []
    for i, (app, seconds) in enumerate((("send", SEND), ("client", CLIENT))):
        path = tmp_path / f"{i}.jsonl"
        path.write_text(log_text(app, seconds, buckets=[[1000, 20]] if app == "client" else None))
        paths.append((path, app))
    logs = columnar.read_logs(paths)
    assert [log.reader for log in logs] == ["arrow", "arrow"]
    assert logs[1].has_hist
    assert np.isnan(logs[1].seconds["rtt_p99_ns"]).all()
    for log, (path, role) in zip(logs, paths, strict=True):
        _same(log, read_log(path, role))


def _with_line(tmp_path: Path, line: bytes, at: int = 2, name: str = "s.jsonl") -> Path:
    lines = log_text("send", SEND).encode().splitlines()
    lines.insert(at, line)
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


EDGE_CASES = {
    "string-counter": b'{"v":1,"type":"second","app":"send","sec":4,"attempted":"ten","sent":9,'
                      b'"dropped":1}',
    "bool-counter": b'{"v":1,"type":"second","app":"send","sec":4,"attempted":true,"sent":9,'
                    b'"dropped":1}',
    "nan-counter": b'{"v":1,"type":"second","app":"send","sec":4,"attempted":NaN,"sent":9,'
                   b'"dropped":1}',
    "missing-field": b'{"v":1,"type":"second","app":"send","sec":4,"sent":9,"dropped":1}',
    "sec-zero": b'{"v":1,"type":"second","app":"send","sec":0,"attempted":10,"sent":9,'
                b'"dropped":1}',
    "two-objects": b'{"v":1,"type":"second","app":"send","sec":4,"attempted":10,"sent":9,'
                   b'"dropped":1} {"v":1}',
    "blank": b"",
    "indented": b'  {"v":1,"type":"second","app":"send","sec":4,"attempted":10,"sent":9,'
                b'"dropped":1}',
    "no-version": b'{"type":"second","app":"send","sec":4,"attempted":10,"sent":9,"dropped":1}',
    "null-version": b'{"v":null,"type":"second","app":"send","sec":4,"attempted":10}',
    "gossip": b'{"v":1,"type":"gossip","app":"send"}',
    "type-list": b'{"v":1,"type":[1],"app":"send"}',
    "bad-utf8": b'{"v":1,"type":"second","app":"send\xff","sec":4,"attempted":10,"sent":9,'
                b'"dropped":1}',
    "utf8": '{"v":1,"type":"second","app":"sénd","sec":4,"attempted":10,"sent":9,'
            '"dropped":1}'.encode(),
    "second-start": b'{"v":1,"type":"start","app":"recv"}',
    "duplicate-key": b'{"v":1,"type":"second","app":"send","sec":4,"attempted":10,'
                     b'"attempted":11,"sent":9,"dropped":1}',
}


@pytest.mark.parametrize("line", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_read_as_the_reference(tmp_path: Path, line: bytes) -> None:
    path = _with_line(tmp_path, line)
    try:
        reference = read_log(path, "send")
    except InputError as refused:
        with pytest.raises(InputError) as info:
            columnar.read_logs([(path, "send")])
        assert str(info.value) == str(refused)
        return
    [fast] = columnar.read_logs([(path, "send")])
    _same(fast, reference)


def test_records_between_seconds_and_a_missing_last_newline(tmp_path: Path) -> None:
    hist = b'{"v":1,"type":"hist","app":"client","unit":"ns","buckets":[[1000,3]]}'
    text = log_text("client", CLIENT).encode().splitlines()
    text.insert(3, hist)  # a record among the seconds: the log's columns are copies
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\n".join(text))
    [fast] = columnar.read_logs([(path, "client")])
    assert fast.reader == "arrow"
    _same(fast, read_log(path, "client"))


def test_unknown_version_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _with_line(tmp_path, b'{"v":7,"type":"second","app":"send","sec":4}')
    with pytest.raises(InputError, match=r"s\.jsonl: record schema version 7 is not supported"):
        columnar.read_logs([(path, "send")])


def test_batches_keep_order_and_isolate_a_bad_log(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Small batches: many logs per batch, several batches, one oversized log.
    monkeypatch.setattr(columnar, "BATCH_BYTES", 4096)
    requests = []
    for i in range(40):
        seconds = [{"rx": float(i), "lost": 0, "reordered": 0, "duplicated": 0}] * (3 + i % 5)
        if i == 17:
            seconds = [{"rx": 1.0, "lost": 0}] * 400  # larger than a batch buffer
        text = log_text("recv", seconds)
        if i == 23:
            text = text.replace('"rx": 23.0', '"rx": "x"', 1)
        path = tmp_path / f"{i:02}.recv.jsonl"
        path.write_text(text)
        requests.append((path, "recv"))
        send = tmp_path / f"{i:02}.send.jsonl"
        send.write_text(log_text("send", SEND))
        requests.append((send, "send"))
    logs = columnar.read_logs(requests)
    assert [log.path for log in logs] == [path for path, _role in requests]
    for log, (path, role) in zip(logs, requests, strict=True):
        _same(log, read_log(path, role))
    assert logs[46].reader == "json" and logs[46].corrupt_lines == 1
    assert sum(log.reader == "arrow" for log in logs) == len(logs) - 1


def test_unreadable_log_is_named(tmp_path: Path) -> None:
    path = tmp_path / "gone.jsonl"
    path.mkdir()
    with pytest.raises(InputError, match=r"gone\.jsonl: cannot read"):
        columnar.read_logs([(path, "send")])


def test_empty_log(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"")
    [fast] = columnar.read_logs([(path, "recv")])
    _same(fast, read_log(path, "recv"))
    assert json.dumps(fast.notes)


def test_logs_arrow_must_not_read_leave_their_batch_to_the_reference(tmp_path: Path) -> None:
    # One batch of ten logs: a blank line, a line split in two and invalid UTF-8 send their
    # logs to the reference reader; the logs around them, valid UTF-8 included, stay columnar.
    bad = {2: b"", 5: b'{"v":1,"type":"second",\n"sec":4}', 8: EDGE_CASES["bad-utf8"]}
    requests = []
    for i in range(10):
        if i in bad:
            path = _with_line(tmp_path, bad[i], name=f"{i}.jsonl")
        elif i == 6:
            path = _with_line(tmp_path, EDGE_CASES["utf8"], name=f"{i}.jsonl")
        else:
            path = tmp_path / f"{i}.jsonl"
            path.write_text(log_text("send", SEND))
        requests.append((path, "send"))
    logs = columnar.read_logs(requests)
    assert [log.reader for log in logs] == ["json" if i in bad else "arrow" for i in range(10)]
    for log, (path, role) in zip(logs, requests, strict=True):
        assert log.path == path
        _same(log, read_log(path, role))
    assert logs[5].corrupt_lines == 2 and logs[8].corrupt_lines == 1


def test_a_record_the_json_module_refuses_among_other_logs(tmp_path: Path) -> None:
    # A raw control character inside a string: Arrow reads the line, the json module does
    # not. The other records of a batch are decoded together: the log with that line is
    # read by the reference reader, the others stay columnar.
    requests = []
    for i in range(4):
        path = tmp_path / f"{i}.jsonl"
        path.write_text(log_text("send", SEND))
        requests.append((path, "send"))
    lines = requests[2][0].read_bytes().splitlines()
    lines[0] = lines[0].replace(b'"app": "send"', b'"app": "se\\u0000nd\x01"', 1)
    assert b"\x01" in lines[0]
    requests[2][0].write_bytes(b"\n".join(lines) + b"\n")
    logs = columnar.read_logs(requests)
    for log, (path, role) in zip(logs, requests, strict=True):
        _same(log, read_log(path, role))
    assert [log.reader for log in logs] == ["arrow", "arrow", "json", "arrow"]
    assert logs[2].corrupt_lines == 1
