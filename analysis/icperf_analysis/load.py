"""Walk a results tree and read every test into tidy tables.

icperf tests are folders holding `test.json` (found by walking, never by path shape: the
playbooks' layout has changed and may change again); any other leaf folder is tried as a thesis
framework folder `<burst>/<vswitch>/<pkt>/<rate>/`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .columnar import read_logs
from .errors import InputError
from .records import KNOWN_VERSIONS, SECOND_COLUMNS, AppLog, role_of
from .thesis_logs import ThesisTest, read_leaf

TEST_FILE = "test.json"
PARAM_COLUMNS = (
    "dimension", "hosts", "lab", "pairs", "vswitch", "pkt_size", "rate", "burst", "duration",
    "raw", "blocking", "consume", "multi", "debug", "xdp", "switch_cores",
)
# Every parameter that makes a test another test (the playbooks' identity). lab_sha256 (the
# lab file's content) is kept out of the per-second table: 64 characters on each of a million
# rows, while the test's id already tells the rows apart.
IDENTITY_COLUMNS = (*PARAM_COLUMNS, "lab_sha256")
# What an older test.json means when it lacks a key, as the playbooks read it (their
# identity module): without this an old and a new record of one test would differ by a NaN.
RECORD_DEFAULTS: dict[str, Any] = {
    "duration": 60, "raw": False, "blocking": False, "consume": False, "multi": False,
    "debug": False, "xdp": False, "switch_cores": 0,
}
_INT_PARAMS = ("pairs", "pkt_size", "rate", "burst")
_CHOICES = {"dimension": ("throughput", "latency"), "hosts": ("local", "remote")}
_STATUSES = ("ok", "failed")
HOST_FIELDS = ("hostname", "kernel", "cmdline", "cpu_model", "cores", "governor")
RECEIVER_ROLE = {"throughput": "recv", "latency": "client"}


@dataclass
class Dataset:
    """Everything read from one results tree.

    tests: one row per test (index test_idx); apps: one row per app log (index app_idx);
    seconds: one row per app per second (test_idx, app_idx, counters); hist: client histogram
    buckets (test_idx, app_idx, value_ns, count).
    """

    root: Path
    tests: pd.DataFrame
    apps: pd.DataFrame
    seconds: pd.DataFrame
    hist: pd.DataFrame
    ignored: list[str] = field(default_factory=list)  # leaf folders holding no test
    # test.json's `cpu` block by the test's path, kept from loading so that aggregation
    # does not read every test.json again (cpu.py).
    cpu_blocks: dict[str, Any] = field(default_factory=dict)

    def per_second(self) -> pd.DataFrame:
        """The tidy table: one row per app per second, test parameters and app as columns."""
        test_cols = ["id", "source", *PARAM_COLUMNS]
        tests = self.tests[test_cols].take(self.seconds["test_idx"].to_numpy())
        apps = self.apps[["container", "app", "role"]].take(self.seconds["app_idx"].to_numpy())
        counters = self.seconds.drop(columns=["test_idx", "app_idx"])
        parts = [tests.reset_index(drop=True), apps.reset_index(drop=True),
                 counters.reset_index(drop=True)]
        return pd.concat(parts, axis=1)


class _Builder:
    """Collects tests, apps and per-second columns, assembled once at the end.

    Each log's columns are kept as they were read and copied once into preallocated columns,
    so a million rows cost one copy of each column, not one per concatenation step.
    """

    def __init__(self) -> None:
        self.tests: list[dict[str, Any]] = []
        self.apps: list[dict[str, Any]] = []
        self._rows = 0
        self._chunks: dict[str, list[tuple[int, np.ndarray]]] = {c: [] for c in SECOND_COLUMNS}
        self._spans: list[tuple[int, int, int, int]] = []  # start, stop, test_idx, app_idx
        self._hist: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        self.ignored: list[str] = []
        self.cpu_blocks: dict[str, Any] = {}

    def add_test(self, row: dict[str, Any]) -> int:
        self.tests.append(row)
        return len(self.tests) - 1

    def add_app(
        self,
        row: dict[str, Any],
        seconds: dict[str, np.ndarray] | None = None,
        hist: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> int:
        app_idx = len(self.apps)
        self.apps.append(row)
        n = 0 if seconds is None else len(seconds["sec"])
        if seconds is not None and n:
            start = self._rows
            self._rows += n
            for name, values in seconds.items():
                if name in self._chunks:
                    self._chunks[name].append((start, values))
            self._spans.append((start, self._rows, row["test_idx"], app_idx))
        if hist is not None and len(hist[0]):
            self._hist.append((row["test_idx"], app_idx, hist[0], hist[1]))
        return app_idx

    def _seconds_frame(self) -> pd.DataFrame:
        n = self._rows
        columns: dict[str, np.ndarray] = {"test_idx": np.empty(n, np.int32),
                                          "app_idx": np.empty(n, np.int32)}
        for start, stop, test_idx, app_idx in self._spans:
            columns["test_idx"][start:stop] = test_idx
            columns["app_idx"][start:stop] = app_idx
        for name, chunks in self._chunks.items():
            column = np.full(n, np.nan)
            for start, values in chunks:
                column[start : start + len(values)] = values
            chunks.clear()
            columns[name] = column
        return pd.DataFrame(columns, copy=False)

    def _hist_frame(self) -> pd.DataFrame:
        sizes = [len(values) for _t, _a, values, _c in self._hist]
        return pd.DataFrame({
            "test_idx": np.repeat([t for t, *_ in self._hist], sizes).astype(np.int32),
            "app_idx": np.repeat([a for _t, a, *_ in self._hist], sizes).astype(np.int32),
            "value_ns": np.concatenate([v for *_, v, _c in self._hist] or [np.empty(0)]),
            "count": np.concatenate([c for *_, c in self._hist] or [np.empty(0)]),
        }).astype({"value_ns": np.int64, "count": np.int64})

    def build(self, root: Path) -> Dataset:
        tests = pd.DataFrame(self.tests)
        for col in (*IDENTITY_COLUMNS, "shared_cores"):
            if col not in tests:
                tests[col] = None
        if "line_rate_bps" not in tests:  # a tree of thesis logs alone
            tests["line_rate_bps"] = np.nan
        for col in [c for c in tests.columns if c.startswith("setting_")]:
            # Tests without the setting make the column float: ring 16384 would read 16384.0.
            values = pd.to_numeric(tests[col], errors="coerce")
            if tests[col].notna().equals(values.notna()) and (values.dropna() % 1 == 0).all():
                tests[col] = values.astype("Int64")
        tests.index.name = "test_idx"
        apps = pd.DataFrame(self.apps)
        apps.index.name = "app_idx"
        return Dataset(root=root, tests=tests, apps=apps, seconds=self._seconds_frame(),
                       hist=self._hist_frame(), ignored=self.ignored,
                       cpu_blocks=self.cpu_blocks)


def _read_test_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read test description: {exc}") from exc
    if not isinstance(doc, dict):
        raise InputError(f"{path}: test description is not a JSON object")
    version = doc.get("v")
    if version not in KNOWN_VERSIONS:
        known = ", ".join(str(v) for v in sorted(KNOWN_VERSIONS))
        raise InputError(f"{path}: test.json schema version {version!r} is not supported "
                         f"(known: {known})")
    for key, kind in (("id", str), ("params", dict), ("status", str), ("apps", list)):
        if not isinstance(doc.get(key), kind):
            raise InputError(f"{path}: key {key!r} missing or not a {kind.__name__}")
    if doc["status"] not in _STATUSES:
        raise InputError(f"{path}: status {doc['status']!r} is not one of {_STATUSES}")
    params = doc["params"]
    for key in _INT_PARAMS:
        if not isinstance(params.get(key), int) or params[key] < 1:
            raise InputError(f"{path}: params.{key} missing or not a positive integer")
    for key, choices in _CHOICES.items():
        if params.get(key) not in choices:
            raise InputError(f"{path}: params.{key} is {params.get(key)!r}, not one of {choices}")
    if not isinstance(params.get("vswitch"), str):
        raise InputError(f"{path}: params.vswitch missing or not a string")
    return doc


def _facts(prefix: str, facts: object) -> dict[str, Any]:
    return {f"{prefix}_{k}": v for k, v in facts.items()} if isinstance(facts, dict) else {}


def _settings(path: Path, settings: object) -> dict[str, Any]:
    """test.json's poller settings as `setting_<name>` columns (absent in older trees)."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise InputError(f"{path}: key 'settings' is not an object")
    # A nested value would not fit a CSV cell: it is kept as its JSON text.
    return {f"setting_{k}": v if v is None or isinstance(v, bool | int | float | str)
            else json.dumps(v, sort_keys=True) for k, v in settings.items()}


def _shared_cores(path: Path, apps: list[Any]) -> bool | None:
    """True when any app's cores are shared; None when no app says (older trees)."""
    said = []
    for i, app in enumerate(apps):
        value = app.get("shared_cores") if isinstance(app, dict) else None
        if value is not None and not isinstance(value, bool):
            raise InputError(f"{path}: apps[{i}].shared_cores is not a boolean")
        said.append(value)
    if any(v is True for v in said):
        return True
    return False if said and all(v is False for v in said) else None


def _line_rate(path: Path, value: object) -> float:
    """test.json's `line_rate_bps`, the link a test across hosts crossed; NaN when the test
    recorded none (local tests, older trees)."""
    if value is None:
        return np.nan
    rate = _number(value)
    if rate is None or not rate > 0:
        raise InputError(f"{path}: key 'line_rate_bps' is {value!r}, not a positive number")
    return rate


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _log_requests(test_dir: Path, doc: dict[str, Any]) -> list[tuple[Path, str]]:
    """The (log, role) pairs of a test that are there to read; the rest _add_icperf_test
    reports."""
    requests = []
    for app in doc["apps"]:
        if isinstance(app, dict) and isinstance(app.get("app"), str) \
                and isinstance(app.get("log"), str):
            role = role_of(app["app"])
            if role is not None and (test_dir / app["log"]).is_file():
                requests.append((test_dir / app["log"], role))
    return requests


def _add_icperf_test(builder: _Builder, root: Path, test_dir: Path, doc: dict[str, Any],
                     logs: dict[tuple[Path, str], AppLog]) -> None:
    path = test_dir / TEST_FILE
    params = doc["params"]
    problems: list[str] = []
    row: dict[str, Any] = {
        "id": doc["id"], "path": test_dir.relative_to(root).as_posix() or ".",
        "source": "icperf", "status": doc["status"], "reason": doc.get("reason"),
        "start": doc.get("start"), "end": doc.get("end"), **RECORD_DEFAULTS, **params,
        "shared_cores": _shared_cores(path, doc["apps"]),
        "line_rate_bps": _line_rate(path, doc.get("line_rate_bps")),
        **_settings(path, doc.get("settings")),
        **{f"host_{k}": None for k in HOST_FIELDS},
        **_facts("host", doc.get("host")), **_facts("versions", doc.get("versions")),
    }
    test_idx = builder.add_test(row)
    builder.cpu_blocks[row["path"]] = doc.get("cpu")
    corrupt = 0
    receivers = 0
    for i, app in enumerate(doc["apps"]):
        if not isinstance(app, dict) or not isinstance(app.get("app"), str) \
                or not isinstance(app.get("log"), str):
            raise InputError(f"{path}: apps[{i}] needs string keys 'app' and 'log'")
        role = role_of(app["app"])
        if role is None:
            raise InputError(f"{path}: apps[{i}].app {app['app']!r} is not send, recv, client, "
                             "server or their dpdk- forms")
        receivers += role == RECEIVER_ROLE[params["dimension"]]
        app_row = {"test_idx": test_idx, "app": app["app"], "role": role,
                   "container": app.get("container"), "peer": app.get("peer"),
                   "host": app.get("host"), "cpus": app.get("cpus"),
                   "shared_cores": app.get("shared_cores"), "log": app["log"], "log_found": False,
                   "n_seconds": 0, "corrupt_lines": 0, "has_summary": False, "end_reason": None,
                   "rtt_min_ns": None, "rtt_max_ns": None,
                   "sent_total": None, "rx_total": None}
        log = logs.get((test_dir / app["log"], role))
        if log is None:
            if doc["status"] == "ok":
                problems.append(f"{app['log']}: log missing")
            builder.add_app(app_row)
            continue
        problems.extend(log.notes)
        corrupt += log.corrupt_lines
        summary = log.summary or {}
        app_row |= {"log_found": True, "n_seconds": log.n_seconds,
                    "corrupt_lines": log.corrupt_lines, "has_summary": log.summary is not None,
                    "end_reason": summary.get("reason"),
                    "rtt_min_ns": _number(summary.get("rtt_min_ns")),
                    "rtt_max_ns": _number(summary.get("rtt_max_ns")),
                    "sent_total": _number(summary.get("sent")),
                    "rx_total": _number(summary.get("rx"))}
        hist = (log.hist_values, log.hist_counts) if log.has_hist else None
        builder.add_app(app_row, log.seconds, hist)
    if receivers != params["pairs"]:
        problems.append(f"params.pairs is {params['pairs']} but {receivers} "
                        f"{RECEIVER_ROLE[params['dimension']]} app(s) are listed")
    row |= {"problems": "; ".join(problems), "partial": bool(problems), "corrupt_lines": corrupt}


def _add_thesis_test(builder: _Builder, root: Path, test: ThesisTest) -> None:
    rel = test.path.relative_to(root).as_posix() or "."
    row: dict[str, Any] = {
        "id": f"thesis:{rel if rel != '.' else test.path.name}", "path": rel,
        "source": "thesis", "status": "ok", "reason": None, **test.params,
        "problems": "; ".join(test.problems), "partial": bool(test.problems),
        "notes": "; ".join(test.notes), "corrupt_lines": sum(t.corrupt_lines for t in test.logs),
    }
    test_idx = builder.add_test(row)
    for log in test.logs:
        app_row = {"test_idx": test_idx, "app": log.role, "role": log.role,
                   "container": None, "peer": None, "host": None, "cpus": None,
                   "shared_cores": None, "log": log.path.name,
                   "log_found": True, "n_seconds": log.n_seconds,
                   "corrupt_lines": log.corrupt_lines, "has_summary": log.has_summary,
                   "end_reason": None, "rtt_min_ns": None, "rtt_max_ns": None,
                   "sent_total": None, "rx_total": None}
        builder.add_app(app_row, log.seconds, log.hist)


def load_results(root: Path, thesis_hosts: str = "local") -> Dataset:
    """Read every icperf test and thesis leaf folder under `root`."""
    if not root.exists():
        raise InputError(f"{root}: no such directory")
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    root = root.resolve()
    builder = _Builder()
    found: list[tuple[Path, dict[str, Any]] | ThesisTest] = []
    requests: list[tuple[Path, str]] = []

    def walk() -> Iterator[tuple[Path, str]]:
        """The logs of the tests, as the walk finds them: the columnar reader parses the
        first ones while the walk goes on."""
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            here = Path(dirpath)
            if TEST_FILE in filenames:
                doc = _read_test_json(here / TEST_FILE)
                found.append((here, doc))
                new = _log_requests(here, doc)
                requests.extend(new)
                yield from new
                dirnames[:] = []
            elif not dirnames and filenames:
                thesis = read_leaf(here, thesis_hosts)
                if thesis is not None:
                    found.append(thesis)
                else:
                    builder.ignored.append(here.relative_to(root).as_posix())

    read = read_logs(walk())
    logs = dict(zip(requests, read, strict=True))
    for item in found:
        if isinstance(item, ThesisTest):
            _add_thesis_test(builder, root, item)
        else:
            _add_icperf_test(builder, root, *item, logs)
    # The builder holds the logs' columns now; without the logs they are freed one by one as
    # they are copied into the table, not all at its end.
    del logs
    if not builder.tests:
        if not any(root.iterdir()):
            raise InputError(f"{root}: directory is empty, there are no results to analyse")
        raise InputError(f"{root}: no {TEST_FILE} and no thesis framework logs found; "
                         "this is not an icperf results directory")
    return builder.build(root)
