"""The sample records under tests/data/records/ follow docs/records.md: the fields each
record type and applet must carry are read from the document's own tables."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from icperf_run import ROOT

DOC = ROOT / "docs" / "records.md"
SAMPLES = ROOT / "tests" / "data" / "records"
APPS = ("send", "recv", "client", "server")

# Types of the `second`/`summary` fields, which the document gives in words.
FLOATS = {"t", "ts", "elapsed", "offered_pps", "sent_pps", "rx_pps"}
STRINGS = {"reason"}
NULLABLE_INTS = re.compile(r"^rtt_\w+_ns$")


def doc_tables() -> dict[str, list[list[str]]]:
    """Markdown tables of docs/records.md by section title ("start", "second", ...)."""
    tables: dict[str, list[list[str]]] = {}
    section = ""
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^##+ (.*)$", line)
        if heading:
            found = re.search(r"`(\w+)`", heading.group(1))
            section = found.group(1) if found else heading.group(1).strip().lower()
        elif line.startswith("| ") and not line.startswith("| field") and section:
            cells = [c.strip() for c in line.strip("|").split("|")]
            tables.setdefault(section, []).append(cells)
    return tables


def names(cell: str) -> list[str]:
    return re.findall(r"`(\w+)`", cell)


def applies(apps_cell: str, app: str) -> bool:
    return apps_cell == "all" or app in [a.strip() for a in apps_cell.split(",")]


class Schema:
    def __init__(self) -> None:
        t = doc_tables()
        self.common = {n: cells[1] for cells in t["common fields"] for n in names(cells[0])}
        self.start = {n: cells[1] for cells in t["start"] for n in names(cells[0])}
        self.second_rows = [(names(c[0]), c[1]) for c in t["second"]]
        self.summary_rows = [(names(c[0]), c[1]) for c in t["summary"]]
        self.hist = {n: cells[1] for cells in t["hist"] for n in names(cells[0])}

    def second_fields(self, app: str) -> set[str]:
        return {n for row, apps in self.second_rows if applies(apps, app) for n in row}

    def summary_fields(self, app: str) -> set[str]:
        counters = self.second_fields(app) - {"sec", "t", "ts"}
        return counters | {n for row, apps in self.summary_rows if applies(apps, app) for n in row}


def type_ok(value: Any, doc_type: str) -> bool:
    kinds = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, float),
        "string": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return any(kinds[k](value) for k in doc_type.split(" or "))


def counter_type(name: str) -> str:
    if name in FLOATS:
        return "float"
    if name in STRINGS:
        return "string"
    return "int or null" if NULLABLE_INTS.match(name) else "int"


def load_jsonl(app: str) -> list[dict[str, Any]]:
    path = SAMPLES / f"{app}.jsonl"
    assert path.is_file(), f"missing sample {path}"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema()


@pytest.mark.parametrize("app", APPS)
def test_json_sample_follows_the_document(schema: Schema, app: str) -> None:
    records = load_jsonl(app)
    kinds = [r["type"] for r in records]
    tail = ["summary", "hist"] if app == "client" else ["summary"]
    assert kinds == ["start"] + ["second"] * (len(kinds) - 1 - len(tail)) + tail
    for rec in records:
        assert rec["v"] == 1 and rec["app"] == app
        for name, doc_type in schema.common.items():
            assert type_ok(rec[name], doc_type), (name, rec[name])

    start = records[0]
    assert set(start) == set(schema.common) | set(schema.start)
    for name, doc_type in schema.start.items():
        assert type_ok(start[name], doc_type), (name, start[name], doc_type)

    seconds = [r for r in records if r["type"] == "second"]
    summary = next(r for r in records if r["type"] == "summary")
    assert seconds, "a ~5 s sample has second records"
    for rec in seconds:
        assert set(rec) == set(schema.common) | schema.second_fields(app)
        for name in schema.second_fields(app):
            assert type_ok(rec[name], counter_type(name)), (name, rec[name])
    assert [r["sec"] for r in seconds] == list(range(1, len(seconds) + 1))

    assert set(summary) == set(schema.common) | schema.summary_fields(app)
    for name in schema.summary_fields(app):
        assert type_ok(summary[name], counter_type(name)), (name, summary[name])
    assert summary["seconds"] == len(seconds)
    assert summary["reason"] in ("duration", "signal")
    counters = schema.second_fields(app) - {"sec", "t", "ts"}
    for name in (n for n in counters if not n.startswith("rtt_")):
        total = sum(r[name] for r in seconds)
        if summary["reason"] == "duration":
            assert total == summary[name], name
        else:
            assert total <= summary[name], name


def test_client_hist_matches_its_summary(schema: Schema) -> None:
    records = load_jsonl("client")
    hist, summary = records[-1], records[-2]
    assert set(hist) == set(schema.common) | set(schema.hist)
    assert hist["unit"] == "ns"
    values = [v for v, _ in hist["buckets"]]
    counts = [c for _, c in hist["buckets"]]
    assert values == sorted(set(values)) and all(c > 0 for c in counts)
    assert sum(counts) == summary["echoed"] > 0
    rtt = [summary[f"rtt_{k}_ns"] for k in ("min", "p50", "p90", "p99", "p999", "max")]
    assert rtt == sorted(rtt) and rtt[0] > 0


def test_samples_of_a_pair_agree() -> None:
    send, recv = (load_jsonl(a)[-1] for a in ("send", "recv"))
    assert recv["rx"] == send["sent"] and recv["lost"] == 0
    client, server = load_jsonl("client")[-2], load_jsonl("server")[-1]
    assert server["rx"] == server["tx"] == client["sent"] == client["echoed"]


SECOND_LINES = {
    "send": re.compile(r"^Tx-pps: \d+ \d+ \d+$"),
    "recv": re.compile(r"^Rx-pps: \d+ -?\d+ \d+ \d+$"),
    "client": re.compile(r"^Avg delay \(us\) and rx count: (\d+\.\d{3}|nan) \d+$"),
    "server": re.compile(r"^Srv-pps: \d+ \d+$"),
}


def key_values(line: str) -> dict[str, str]:
    return dict(token.split("=", 1) for token in line.split(" ")[1:])


@pytest.mark.parametrize("app", APPS)
def test_text_sample_follows_the_document(schema: Schema, app: str) -> None:
    path = SAMPLES / f"{app}.txt"
    assert path.is_file(), f"missing sample {path}"
    lines = path.read_text().splitlines()
    assert lines[0].startswith("Start: ")
    start = key_values(lines[0])
    assert next(iter(start)) == "app" and start["app"] == app
    assert set(start) == {"app"} | set(schema.start)
    tail = 2 if app == "client" else 1
    seconds = lines[1:-tail]
    assert seconds and all(SECOND_LINES[app].match(line) for line in seconds), seconds
    summary = key_values(lines[len(lines) - tail])
    assert lines[len(lines) - tail].startswith("Summary: ")
    assert set(summary) == {"app"} | schema.summary_fields(app)
    assert int(summary["seconds"]) == len(seconds)
    if app == "client":
        hist = key_values(lines[-1])
        assert lines[-1].startswith("Hist: ") and hist["unit"] == "ns"
        pairs = [tuple(map(int, b.split(":"))) for b in hist["buckets"].split(",")]
        assert sum(c for _, c in pairs) == int(summary["echoed"])
