"""Reader for the thesis framework's text logs (also icperf's own text form).

The thesis tree is `[<S>/]<burst>/<vswitch>/<pkt>/<rate>/` with one text file per app in each
leaf folder. File names carry no meaning: the app is inferred from the kinds of lines a file
holds, and the number of pairs from the number of receiver (or client) files.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

# (line prefix, role, the numbers the line may carry in order, how many must be there)
LINE_KINDS: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("Tx-pps:", "send", ("sent", "dropped", "attempted"), 3),
    ("Rx-pps:", "recv", ("rx", "lost", "reordered", "duplicated"), 1),
    ("Avg delay (us) and rx count:", "client", ("rtt_mean_us", "echoed"), 2),
    ("Srv-pps:", "server", ("rx", "tx"), 2),
)
SUMMARY_PREFIX = "Summary:"
HIST_PREFIX = "Hist:"
_LAB = re.compile(r"^(\d+)vs(\d+)$")
_COUNT = re.compile(r"^(\d+(?:\.\d+)?)([kKmMgG]?)$")
_MULTIPLIER = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


@dataclass
class TextLog:
    """Per-second columns of one text log; `sec` is the 1-based line order."""

    path: Path
    role: str
    seconds: dict[str, np.ndarray]
    n_seconds: int
    corrupt_lines: int
    has_summary: bool
    hist: tuple[np.ndarray, np.ndarray] | None = None  # (value_ns, count) of a Hist line


def _parse_hist(line: str) -> tuple[np.ndarray, np.ndarray] | None:
    """`Hist: app=client unit=ns buckets=V:C,V:C` -> (values, counts); None when malformed."""
    fields = dict(f.split("=", 1) for f in line[len(HIST_PREFIX) :].split() if "=" in f)
    if fields.get("unit") != "ns" or "buckets" not in fields:
        return None
    try:
        pairs = [tuple(int(n) for n in b.split(":")) for b in fields["buckets"].split(",") if b]
        table = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    except ValueError:
        return None
    return table[:, 0], table[:, 1]


@dataclass
class ThesisTest:
    """One leaf folder of a thesis tree: its parameters (from the path) and its logs."""

    path: Path
    params: dict[str, Any]
    logs: list[TextLog]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_count(text: str) -> int | None:
    """`1000000`, `1M`, `500k` -> int; anything else -> None."""
    match = _COUNT.match(text)
    if match is None:
        return None
    return int(float(match.group(1)) * _MULTIPLIER[match.group(2).lower()])


def read_text_log(path: Path) -> TextLog | None:
    """Read one text log; None when it holds no statistics line at all."""
    rows: dict[str, list[list[float]]] = {kind[1]: [] for kind in LINE_KINDS}
    corrupt: dict[str, int] = {kind[1]: 0 for kind in LINE_KINDS}
    has_summary = False
    hist = None
    bad_hist = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for raw in lines:
            line = raw.strip()
            if line.startswith(SUMMARY_PREFIX):
                has_summary = True
                continue
            if line.startswith(HIST_PREFIX):
                hist = _parse_hist(line)
                bad_hist += hist is None
                continue
            for prefix, role, names, required in LINE_KINDS:
                if not line.startswith(prefix):
                    continue
                fields = line[len(prefix) :].split()[: len(names)]
                try:
                    values = [float(f) for f in fields]
                except ValueError:
                    values = []
                # A skipped line still took its second: later lines keep their index.
                if len(values) < required:
                    corrupt[role] += 1
                else:
                    sec = float(len(rows[role]) + corrupt[role] + 1)
                    rows[role].append([sec, *values] + [math.nan] * (len(names) - len(values)))
                break
    seen = {role: len(rows[role]) + corrupt[role] for role in rows}
    role = max(seen, key=lambda r: seen[r])
    if seen[role] == 0:
        return None
    # Lines of another kind in the same file cannot belong to this app.
    bad = corrupt[role] + sum(n for r, n in seen.items() if r != role) + bad_hist
    names = next(kind[2] for kind in LINE_KINDS if kind[1] == role)
    table = np.array(rows[role], dtype=np.float64).reshape(-1, len(names) + 1)
    seconds = {name: table[:, i] for i, name in enumerate(("sec", *names))}
    if "rtt_mean_us" in seconds:
        seconds["rtt_mean_ns"] = seconds.pop("rtt_mean_us") * 1000.0
    return TextLog(path, role, seconds, len(table), bad, has_summary,
                   hist if role == "client" else None)


def _leaf_params(leaf: Path, hosts: str) -> dict[str, Any] | None:
    parts = leaf.parts
    if len(parts) < 4:
        return None
    burst, vswitch, pkt, rate = parts[-4:]
    values = {"burst": parse_count(burst), "pkt_size": parse_count(pkt), "rate": parse_count(rate)}
    if any(v is None for v in values.values()) or parse_count(vswitch) is not None:
        return None
    lab = _LAB.match(parts[-5]) if len(parts) >= 5 else None
    return {"hosts": hosts, "vswitch": vswitch, **values, "lab": lab.group(0) if lab else None}


def read_leaf(leaf: Path, hosts: str) -> ThesisTest | None:
    """Read a leaf folder of a thesis tree; None when it is not one."""
    params = _leaf_params(leaf, hosts)
    if params is None:
        return None
    logs: list[TextLog] = []
    ignored: list[str] = []
    for path in sorted(p for p in leaf.iterdir() if p.is_file()):
        try:
            log = read_text_log(path)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
        if log is None:
            if path.stat().st_size:
                ignored.append(path.name)
        else:
            logs.append(log)
    if not logs:
        return None
    test = ThesisTest(path=leaf, params=params, logs=logs)
    if ignored:
        test.notes.append("files without statistics lines ignored: " + ", ".join(ignored))
    roles = [log.role for log in logs]
    dimension = "latency" if "client" in roles else "throughput"
    receiver = "client" if dimension == "latency" else "recv"
    pairs = roles.count(receiver)
    if pairs == 0:
        pairs = roles.count("send")
        test.problems.append(f"no {receiver} log in the folder: receive rates unknown")
    lab = params["lab"] or f"{pairs}vs{pairs}"
    lab_match = _LAB.match(lab)
    if lab_match and int(lab_match.group(1)) != pairs:
        test.problems.append(f"folder says {lab} but {pairs} {receiver} log(s) were found")
    params.update({"dimension": dimension, "pairs": pairs, "lab": lab})
    text_form = any(log.has_summary for log in logs)
    for log in logs:
        if log.corrupt_lines:
            test.problems.append(f"{log.path.name}: {log.corrupt_lines} corrupt line(s) skipped")
        if text_form and not log.has_summary:
            test.problems.append(f"{log.path.name}: no Summary line (truncated run)")
    return test
