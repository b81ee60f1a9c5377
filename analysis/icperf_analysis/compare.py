"""`icperf-analyze compare A B --out DIR`: the change of every configuration from run A to B.

A and B are results trees or report directories (their metrics.csv, see metrics.py). Tests are
matched by their whole identity (load.IDENTITY_COLUMNS), as the analysis groups them;
configurations in only one of A and B are listed, not compared. A configuration that ran
several times on both sides is compared by the mean of its trials, with their standard
deviation as spread; otherwise the spread is the per-second standard deviation within the
test. A change beyond the spread (|B - A| > sqrt(spread_A^2 + spread_B^2)), larger than the
threshold and in the worse direction is a regression, and so is a configuration that ran in A
and failed in B: the command then exits EXIT_REGRESSION.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .aggregate import Window
from .cli import EXIT_INPUT, _seconds, number, summarise
from .compare_output import SPREAD_NAMES, write_outputs
from .errors import InputError
from .load import IDENTITY_COLUMNS
from .metrics import METRICS, METRICS_FILE, test_metrics

EXIT_REGRESSION = 3
KEY = list(IDENTITY_COLUMNS)
# Loss is a ratio that is often 0: its change and threshold are in percentage points.
POINTS = {"loss_ratio"}
_COLUMNS = ["metric", "what", "a", "b", "change", "change_pct", "unit", "spread_a", "spread_b",
            "spread", "spread_from", "trials_a", "trials_b", "beyond_spread", "over_threshold",
            "verdict", "ids_a", "ids_b"]


@dataclass
class Side:
    name: str  # "A" or "B"
    path: Path
    kind: str  # "results" or "report"
    tests: pd.DataFrame  # metrics.test_metrics' table


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="icperf-analyze compare",
        description="Compare two results trees (or two report directories) configuration by "
        "configuration; exit 3 when a change is a regression.")
    p.add_argument("a", type=Path, metavar="A", help="the reference: results tree or report")
    p.add_argument("b", type=Path, metavar="B", help="the run compared with A")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="where compare.csv, compare.md, compare.html and figures/ go")
    p.add_argument("--threshold", default=5.0, metavar="PCT",
                   type=number("--threshold", "a percentage >= 0", lambda v: 0 <= v < np.inf),
                   help="smallest change that counts, in %% of A (loss: percentage points); "
                   "default 5")
    p.add_argument("--warmup", type=_seconds("--warmup"), default=5,
                   help="seconds dropped at the start of every app's run (results trees)")
    p.add_argument("--cooldown", type=_seconds("--cooldown"), default=5,
                   help="seconds dropped at the end of every app's run (results trees)")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    return p


def read_side(name: str, path: Path, window: Window) -> Side:
    """A report directory when it holds metrics.csv, else a results tree."""
    if not path.is_dir():
        raise InputError(f"{name}: {path}: no such directory")
    metrics = path / METRICS_FILE
    if metrics.is_file():
        try:
            tests = pd.read_csv(metrics, keep_default_na=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"{name}: {metrics}: cannot read: {exc}") from exc
        missing = [c for c in [*KEY, "status", *(m for m, *_ in METRICS)] if c not in tests]
        if missing:
            raise InputError(f"{name}: {metrics}: columns missing: {', '.join(missing)}")
        return Side(name, path, "report", tests)
    if (path / "report.html").is_file() or (path / "summary.csv").is_file():
        raise InputError(f"{name}: {path} is a report directory without {METRICS_FILE} "
                         "(written before compare existed): analyse its results again")
    try:
        analysis = summarise(path, window)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from exc
    with np.errstate(invalid="ignore", divide="ignore"):
        tests = test_metrics(analysis.dataset, analysis.aggregates)
    return Side(name, path, "results", tests)


def _keys(tests: pd.DataFrame) -> pd.DataFrame:
    """Identity columns as text, so a CSV's 64 and a tree's 64 (or two empties) match."""
    def text(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return pd.DataFrame({c: tests[c].map(text) if c in tests else "" for c in KEY},
                        index=tests.index)


def _configurations(side: Side) -> pd.DataFrame:
    """One row per configuration: mean of the metrics over its trials, and the spreads."""
    ok = side.tests[side.tests["status"] == "ok"]
    keys = _keys(ok)
    groups = ok.groupby([keys[c] for c in KEY], sort=True, dropna=False)
    rows = groups.size().rename("trials").to_frame()
    for metric, _what, _better in METRICS:
        values = groups[metric]
        rows[metric] = values.mean()
        by_trials = values.std(ddof=1)
        by_seconds = groups[f"{metric}_spread"].mean() if f"{metric}_spread" in ok else np.nan
        rows[f"{metric}_spread"] = by_trials.where(rows["trials"] > 1, by_seconds)
    rows["ids"] = groups["id"].agg(lambda ids: " ".join(map(str, ids)))
    return rows


def _failed(side: Side) -> pd.Index:
    failed = side.tests[side.tests["status"] != "ok"]
    return pd.MultiIndex.from_frame(_keys(failed)) if not failed.empty else pd.Index([])


def _only(mine: pd.DataFrame, other: pd.DataFrame, name: str, other_side: Side
          ) -> pd.DataFrame:
    """Configurations of `mine` without an ok test in `other`; marked when it failed there."""
    keys = mine.index.difference(other.index)
    failed = keys.isin(_failed(other_side)) if len(keys) else np.zeros(0, bool)
    return keys.to_frame(index=False).assign(
        only_in=np.where(failed, f"{name} (failed in {other_side.name})", name))


def compare(a: Side, b: Side, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The comparison (one row per configuration and metric) and the unmatched list."""
    ca, cb = _configurations(a), _configurations(b)
    both = ca.merge(cb, how="inner", left_index=True, right_index=True, suffixes=("_a", "_b"))
    only = pd.concat([_only(ca, cb, "A", b), _only(cb, ca, "B", a)])
    rows = []
    for key, row in both.iterrows():
        trials = (row["trials_a"], row["trials_b"])
        spread_from = ("trials" if min(trials) > 1 else "seconds" if max(trials) == 1
                       else "trials (A)" if trials[0] > 1 else "trials (B)")
        for metric, what, better in METRICS:
            va, vb = row[f"{metric}_a"], row[f"{metric}_b"]
            if pd.isna(va) or pd.isna(vb):
                continue
            sa, sb = row[f"{metric}_spread_a"], row[f"{metric}_spread_b"]
            spread = float(np.hypot(np.nan_to_num(sa), np.nan_to_num(sb)))
            change = vb - va
            if metric in POINTS:
                pct = change * 100.0
            elif va:
                pct = change / va * 100.0
            else:
                pct = 0.0 if change == 0 else float(np.copysign(np.inf, change))
            beyond = abs(change) > spread
            large = abs(pct) > threshold
            verdict = ("no change" if not (beyond and large)
                       else "regression" if change * better < 0 else "improvement")
            rows.append({**dict(zip(KEY, key, strict=True)), "metric": metric, "what": what,
                         "a": va, "b": vb, "change": change, "change_pct": pct,
                         "unit": "points" if metric in POINTS else "%",
                         "spread_a": sa, "spread_b": sb, "spread": spread,
                         "spread_from": spread_from, "trials_a": trials[0],
                         "trials_b": trials[1], "beyond_spread": beyond,
                         "over_threshold": large, "verdict": verdict,
                         "ids_a": row["ids_a"], "ids_b": row["ids_b"]})
    table = pd.DataFrame(rows, columns=[*KEY, *_COLUMNS])
    return table, only.reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    window = Window(args.warmup, args.cooldown)
    try:
        a = read_side("A", args.a, window)
        b = read_side("B", args.b, window)
    except InputError as exc:
        print(f"icperf-analyze compare: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"icperf-analyze compare: error: --out {args.out}: {exc.strerror}",
              file=sys.stderr)
        return EXIT_INPUT
    with np.errstate(invalid="ignore", divide="ignore"):
        table, only = compare(a, b, args.threshold)
    write_outputs(args.out, a, b, table, only, args.threshold, not args.no_figures)
    regressions = table[table["verdict"] == "regression"]
    failed = only[only["only_in"] == "A (failed in B)"]
    matched = len(table.drop_duplicates(KEY))
    print(f"icperf-analyze compare: {matched} configuration(s) compared, {len(only)} in only "
          f"one of A and B; spread from {_spread_sources(table)}", file=sys.stderr)
    for row in failed.itertuples():
        print(f"icperf-analyze compare: regression: {row.vswitch} P={row.pkt_size} "
              f"R={row.rate}: ok in A, failed in B", file=sys.stderr)
    if regressions.empty and failed.empty:
        unchanged = " (no change)" if (table["verdict"] == "no change").all() else ""
        print("icperf-analyze compare: no regression beyond the spread and "
              f"{args.threshold:g} %{unchanged}", file=sys.stderr)
        return 0
    for row in regressions.itertuples():
        print(f"icperf-analyze compare: regression: {row.vswitch} P={row.pkt_size} "
              f"R={row.rate} {row.metric}: {row.a:.6g} -> {row.b:.6g} ({row.change_pct:+.2f} "
              f"{row.unit}, spread {row.spread:.3g})",
              file=sys.stderr)
    return EXIT_REGRESSION


def _spread_sources(table: pd.DataFrame) -> str:
    if table.empty:
        return "nothing (no configuration in both)"
    return " and ".join(SPREAD_NAMES[u] for u in sorted(set(table["spread_from"])))
