"""Rate searches (NDR/PDR): the search records of a results tree, a table and figures.

``testset.yml -e search=ndr,pdr`` writes each trial as a normal test (read by ``load``
like any other) and, per configuration, a search record ``<lab>/search/<config>.jsonl``
(docs/results.md): a ``search`` line opening each run of the search, one ``trial`` line
per trial and a ``result`` line with the rate found per goal. A record may hold several
runs (a resumed or repeated search appends); the last run that reached its ``result`` is
the one reported, an unfinished later one is reported as such.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .errors import InputError
from .figures import PlotFigure, save
from .report import figure_html

SEARCH_DIR = "search"
GOAL_STYLE = {"ndr": ("tab:blue", "NDR"), "pdr": ("tab:orange", "PDR")}
IDENTITY_SHOWN = (
    "lab",
    "vswitch",
    "pkt_size",
    "burst",
    "switch_cores",
    "raw",
    "blocking",
    "consume",
    "multi",
    "debug",
    "xdp",
)
TABLE_COLUMNS = [
    "record",
    *IDENTITY_SHOWN,
    "goal",
    "loss_target",
    "status",
    "found",
    "rate",
    "rate_mpps",
    "upper",
    "clamped",
    "confirm_loss_ratio",
    "confirm_path",
    "trials",
    "trials_run",
    "trial_seconds",
    "reason",
]


@dataclass
class Searches:
    """One row per (search record, goal), one row per trial of the reported runs."""

    results: pd.DataFrame
    trials: pd.DataFrame
    records: list[str] = field(default_factory=list)  # folders holding search records

    @property
    def empty(self) -> bool:
        return self.results.empty


def is_record_folder(path: str) -> bool:
    """A results-tree folder (relative path) holding search records, not tests."""
    return Path(path).name == SEARCH_DIR


def _lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(line, dict) or line.get("type") not in ("search", "trial", "result"):
            raise InputError(f"{path}: line {number}: not a search, trial or result line")
        lines.append(line)
    return lines


def _runs(lines: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    runs: list[list[dict[str, Any]]] = []
    for line in lines:
        if line["type"] == "search" or not runs:
            runs.append([])
        runs[-1].append(line)
    return runs


def _rows(record: str, run: list[dict[str, Any]]) -> list[dict[str, Any]]:
    head = run[0] if run[0]["type"] == "search" else {}
    identity = {key: (head.get("identity") or {}).get(key) for key in IDENTITY_SHOWN}
    trials = [line for line in run if line["type"] == "trial"]
    result = next((line for line in reversed(run) if line["type"] == "result"), None)
    goals = (head.get("spec") or {}).get("goals") or list((result or {}).get("results") or {})
    full = {
        t["rate"]: t
        for t in trials
        if t.get("duration") == (head.get("spec") or {}).get("duration")
    }
    rows = []
    for goal in goals:
        found = ((result or {}).get("results") or {}).get(goal) or {}
        confirm = full.get(found.get("rate"))
        rows.append(
            {
                "record": record,
                **identity,
                "goal": goal,
                "loss_target": found.get("loss_target"),
                "status": "unfinished" if result is None else result.get("status"),
                "found": bool(found.get("found")),
                "rate": found.get("rate"),
                "upper": found.get("upper"),
                "clamped": found.get("clamped"),
                "confirm_loss_ratio": found.get("loss_ratio"),
                "confirm_path": None if confirm is None else confirm.get("path"),
                "trials": len(trials),
                "trials_run": sum(1 for t in trials if not t.get("reused")),
                "trial_seconds": sum(int(t.get("duration") or 0) for t in trials),
                "reason": None if result is None else result.get("reason"),
            }
        )
    return rows


def load(root: Path) -> Searches:
    """Every search record under ``root`` (the last finished run of each)."""
    rows: list[dict[str, Any]] = []
    trial_rows: list[dict[str, Any]] = []
    folders: set[str] = set()
    for path in sorted(root.rglob(f"{SEARCH_DIR}/*.jsonl")):
        record = path.relative_to(root).as_posix()
        folders.add(path.parent.relative_to(root).as_posix())
        runs = _runs(_lines(path))
        finished = [run for run in runs if any(line["type"] == "result" for line in run)]
        run = finished[-1] if finished else runs[-1] if runs else []
        if not run:
            continue
        rows += _rows(record, run)
        trial_rows += [{"record": record, **line} for line in run if line["type"] == "trial"]
    results = pd.DataFrame(rows, columns=TABLE_COLUMNS[:3] + TABLE_COLUMNS[3:])
    results["rate_mpps"] = pd.to_numeric(results["rate"], errors="coerce") / 1e6
    return Searches(results[TABLE_COLUMNS], pd.DataFrame(trial_rows), sorted(folders))


def without_vswitches(searches: Searches, names: Collection[str]) -> Searches:
    """The searches of every switch but ``names`` (``--exclude-vswitch``)."""
    keep = ~searches.results["vswitch"].isin(list(names))
    results = searches.results[keep].reset_index(drop=True)
    trials = searches.trials
    if not trials.empty:
        trials = trials[trials["record"].isin(set(results["record"]))].reset_index(drop=True)
    return Searches(results, trials, searches.records)


def figures(searches: Searches) -> list[PlotFigure]:
    """Per switch and packet size: each trial's rate (filled: within the NDR target), the
    rates found, and their upper bounds; one panel per configuration (burst, flags, ...)."""
    plots = []
    if searches.empty:
        return plots
    for (vswitch, pkt), part in searches.results.groupby(["vswitch", "pkt_size"], sort=True):
        records = list(dict.fromkeys(part["record"]))
        fig = Figure(figsize=(5.5 * len(records), 4.2), layout="constrained")
        axes = fig.subplots(1, len(records), squeeze=False)[0]
        fig.suptitle(f"Rate search: V = {vswitch}, P = {pkt}", fontsize=10)
        for ax, record in zip(axes, records, strict=True):
            trials = searches.trials[searches.trials["record"] == record]
            good = trials["loss_ratio"].fillna(1.0) <= 0.0
            ax.scatter(
                trials["index"][good], trials["rate"][good] / 1e6, c="k", label="trial, no loss"
            )
            ax.scatter(
                trials["index"][~good],
                trials["rate"][~good] / 1e6,
                facecolors="none",
                edgecolors="k",
                label="trial with loss",
            )
            for row in part[part["record"] == record].itertuples():
                color, name = GOAL_STYLE.get(row.goal, ("tab:gray", row.goal.upper()))
                if row.found:
                    ax.axhline(row.rate / 1e6, color=color, label=f"{name} {row.rate:,} pps")
                if row.upper == row.upper and row.upper is not None:
                    ax.axhline(row.upper / 1e6, color=color, ls=":", lw=0.8)
            ax.set_yscale("log")  # the first trial, at the maximum rate, is far above
            ax.set_xlabel("trial")
            ax.set_ylabel("offered rate R (Mpps)")
            ax.set_title(record.rsplit("/", 1)[-1].removesuffix(".jsonl"), fontsize=9)
            ax.legend(fontsize=7)
        label = f"(V = {vswitch}, P = {pkt})"
        plots.append(
            PlotFigure(
                "rate_search",
                label,
                {"vswitch": vswitch, "pkt_size": pkt},
                fig,
                notes=["dotted: the lowest rate that lost more than the target"],
            )
        )
    return plots


def write(searches: Searches, out: Path, draw: bool) -> list[PlotFigure]:
    """search.csv, and the figures under out/figures when ``draw``."""
    searches.results.to_csv(out / "search.csv", index=False)
    if not draw or searches.empty:
        return []
    plots = figures(searches)
    save(plots, out / "figures")
    return plots


def html_section(searches: Searches, plots: list[PlotFigure]) -> str:
    """The report's NDR/PDR section: the table, then the figures."""
    if searches.empty:
        return ""
    shown = searches.results.drop(columns=["rate_mpps"])
    parts = ["<h2>NDR and PDR (rate search)</h2>",
             "<p>Per configuration and goal: the highest rate R whose full-length trial lost "
             "at most <code>loss_target</code> (NDR 0, PDR <code>pdr_loss</code>), the lowest "
             "rate that lost more (<code>upper</code>), the confirmation trial's loss and "
             "folder, and the trials the search took (<code>trials_run</code>: run by the "
             "last run, the rest re-used). <code>clamped</code>: the maximum rate met the "
             "target.</p>",
             shown.to_html(index=False, escape=True, na_rep="", border=0,
                           float_format=lambda v: f"{v:.6g}")]  # fmt: skip
    parts += [figure_html(plot) for plot in plots]
    return "\n".join(parts)
