"""Reader for the JSON-lines logs written by the icperf applets (docs/records.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

KNOWN_VERSIONS = frozenset({1})
RECORD_TYPES = frozenset({"start", "second", "summary", "hist"})
ROLES = ("send", "recv", "client", "server")

# Per-second columns every role may carry; a role's log fills only its own.
SECOND_COLUMNS = (
    "sec",
    "t",
    "attempted",
    "sent",
    "dropped",
    "rx",
    "lost",
    "reordered",
    "duplicated",
    "tx",
    "echoed",
    "rtt_min_ns",
    "rtt_mean_ns",
    "rtt_max_ns",
    "rtt_p50_ns",
    "rtt_p90_ns",
    "rtt_p99_ns",
    "rtt_p999_ns",
)
_RTT = ("rtt_min_ns", "rtt_mean_ns", "rtt_max_ns", "rtt_p50_ns", "rtt_p90_ns", "rtt_p99_ns",
        "rtt_p999_ns")
ROLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "send": ("sec", "t", "attempted", "sent", "dropped"),
    "recv": ("sec", "t", "rx", "lost", "reordered", "duplicated"),
    "client": ("sec", "t", "attempted", "sent", "dropped", "echoed", *_RTT),
    "server": ("sec", "t", "rx", "tx"),
}
# Fields without which a `second` record says nothing; the rtt_* fields may be null by contract.
ROLE_REQUIRED: dict[str, tuple[str, ...]] = {
    "send": ("sec", "attempted", "sent", "dropped"),
    "recv": ("sec", "rx"),
    "client": ("sec", "attempted", "sent", "echoed"),
    "server": ("sec", "rx"),
}


def role_of(app: str) -> str | None:
    """`send`, `recv`, `client` or `server` for an app name (DPDK twins included), else None."""
    role = app.removeprefix("dpdk-")
    return role if role in ROLES else None


@dataclass
class AppLog:
    """What one applet log holds, as columns; `seconds` arrays all have length `n_seconds`."""

    path: Path
    role: str
    seconds: dict[str, np.ndarray] = field(default_factory=dict)
    n_seconds: int = 0
    start: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    hist_values: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_counts: np.ndarray = field(default_factory=lambda: np.empty(0))
    has_hist: bool = False
    corrupt_lines: int = 0
    notes: list[str] = field(default_factory=list)
    reader: str = "json"  # "arrow" when columnar.read_logs parsed it


def _parse_lines(lines: list[bytes]) -> tuple[list[Any], int]:
    """Decode every line; undecodable lines are dropped and counted."""
    if lines:
        try:
            # One decoder call for the whole file is several times faster than one per line.
            records = json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            records = None
        if records is not None and len(records) == len(lines):
            return records, 0
    records = []
    bad = 0
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            bad += 1
    return records, bad


def _check_version(path: Path, record: dict[str, Any]) -> None:
    version = record.get("v")
    if version not in KNOWN_VERSIONS:
        known = ", ".join(str(v) for v in sorted(KNOWN_VERSIONS))
        raise InputError(
            f"{path}: record schema version {version!r} is not supported (known: {known})"
        )


def _columns(records: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {name: np.array([r.get(name) for r in records], dtype=np.float64) for name in names}


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def valid_seconds(
    role: str, cols: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], int]:
    """The rows of `second` columns that say something, and how many were dropped.

    A row is dropped when a field the role must report is missing (NaN) or when `sec` is not
    a positive index.
    """
    ok = cols["sec"] >= 1
    for name in ROLE_REQUIRED[role]:
        ok &= ~np.isnan(cols[name])
    if ok.all():
        return cols, 0
    return {name: values[ok] for name, values in cols.items()}, int((~ok).sum())


def _second_columns(
    role: str, seconds: list[dict[str, Any]]
) -> tuple[dict[str, np.ndarray], int]:
    """Columns of the `second` records and how many records were dropped as corrupt.

    A record is corrupt when a field holds something other than a number or null, or when
    valid_seconds drops it.
    """
    names = ROLE_COLUMNS[role]
    try:
        cols = _columns(seconds, names)
    except (TypeError, ValueError):
        cols = _columns([r for r in seconds if all(_is_number(r.get(n)) for n in names)], names)
    typed = len(cols["sec"])
    cols, dropped = valid_seconds(role, cols)
    return cols, len(seconds) - typed + dropped


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


def read_log(path: Path, role: str) -> AppLog:
    """Read one applet log. Unknown schema versions raise InputError naming the file."""
    return parse_log(path, role, read_bytes(path))


def parse_log(path: Path, role: str, data: bytes) -> AppLog:
    """The reference reader: every line decoded by the json module (see columnar.py)."""
    lines = [line for line in data.splitlines() if line.strip()]
    records, bad = _parse_lines(lines)
    seconds: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for record in records:
        if not isinstance(record, dict) or "v" not in record:
            bad += 1
            continue
        _check_version(path, record)
        (seconds if record.get("type") == "second" else others).append(record)
    cols, dropped = _second_columns(role, seconds)
    return interpret(path, role, cols, bad + dropped, others)


def interpret(path: Path, role: str, cols: dict[str, np.ndarray], bad: int,
              others: list[dict[str, Any]], reader: str = "json") -> AppLog:
    """An AppLog from the `second` columns, the other records in file order and the count of
    lines already found corrupt."""
    log = AppLog(path=path, role=role, reader=reader)
    for record in others:
        kind = record.get("type")
        if kind == "start" and log.start is None:
            log.start = record
        elif kind == "summary":
            log.summary = record
        elif kind == "hist":
            if not _read_hist(log, record):
                bad += 1
        elif not isinstance(kind, str) or kind not in RECORD_TYPES:
            bad += 1
    log.seconds = cols
    log.n_seconds = len(cols["sec"])
    log.corrupt_lines = bad
    if bad:
        log.notes.append(f"{path.name}: {bad} corrupt record line(s) skipped")
    if log.n_seconds == 0:
        log.notes.append(f"{path.name}: no second records")
    if log.summary is None:
        log.notes.append(f"{path.name}: no summary record (truncated run)")
    if role == "client" and not log.has_hist and log.summary is not None:
        log.notes.append(f"{path.name}: no hist record")
    if log.start is not None and role_of(str(log.start.get("app", ""))) != role:
        log.notes.append(
            f"{path.name}: start record names app {log.start.get('app')!r}, test.json {role!r}"
        )
    return log


def _read_hist(log: AppLog, record: dict[str, Any]) -> bool:
    buckets = record.get("buckets")
    if not isinstance(buckets, list):
        return False
    try:
        pairs = np.array(buckets, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        return False
    if not buckets:
        pairs = pairs.reshape(0, 2)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or (pairs < 0).any():
        return False
    log.hist_values, log.hist_counts = pairs[:, 0], pairs[:, 1]
    log.has_hist = True
    return True
