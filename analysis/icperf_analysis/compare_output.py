"""What `icperf-analyze compare` writes: compare.csv, only_in_one.csv, compare.md, compare.html
and figures/compare_*.png|svg, in the style of the analysis report."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import __version__
from .figures import PlotFigure, new_figure, save
from .load import IDENTITY_COLUMNS
from .metrics import METRICS
from .report import _CSS, _table

if TYPE_CHECKING:
    from .compare import Side

KEY = list(IDENTITY_COLUMNS)
# The figures' panels: the throughput metrics, then the RTT percentiles.
PANELS = {"throughput": ("m_pps", "t_pps", "loss_ratio"),
          "rtt": tuple(m for m, *_ in METRICS if m.startswith("rtt_"))}
_COLOURS = {"regression": "#c0392b", "improvement": "#27ae60", "no change": "#7f8c8d"}
SPREAD_NAMES = {"seconds": "the per-second variation within each test",
                "trials": "the repeated trials of each configuration",
                "trials (A)": "the repeated trials in A and the per-second variation in B",
                "trials (B)": "the per-second variation in A and the repeated trials in B"}
SHOWN = ["metric", "a", "b", "change_pct", "unit", "spread", "spread_from", "trials_a",
         "trials_b", "verdict"]


def labels(table: pd.DataFrame) -> pd.Series:
    """A configuration's name from the identity columns that differ between configurations."""
    varying = [c for c in KEY if table[c].nunique() > 1 and c != "lab_sha256"]
    shown = varying or ["vswitch", "pkt_size", "rate"]
    return table[shown].astype(str).apply(lambda row: " ".join(
        f"{c}={v}" for c, v in zip(shown, row, strict=True) if v), axis=1)


def _figures(table: pd.DataFrame, threshold: float, out: Path) -> list[PlotFigure]:
    plots = []
    table = table.assign(label=labels(table))
    for kind, metrics in PANELS.items():
        present = [m for m in metrics if (table["metric"] == m).any()]
        if not present:
            continue
        fig, axes = new_figure(len(present), "change from A to B; bars: spread, band: "
                               f"threshold {threshold:g}", f"Compare: {kind}")
        for ax, metric in zip(axes, present, strict=True):
            rows = table[table["metric"] == metric]
            y = np.arange(len(rows))
            scale = 100.0 if metric == "loss_ratio" else 100.0 / rows["a"].abs().replace(0, np.nan)
            ax.barh(y, rows["change_pct"].clip(-1e6, 1e6), xerr=rows["spread"] * scale,
                    color=[_COLOURS[v] for v in rows["verdict"]])
            ax.axvspan(-threshold, threshold, color="#f1c40f", alpha=0.2)
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_yticks(y, rows["label"], fontsize=7)
            unit = "percentage points" if rows["unit"].iloc[0] == "points" else "% of A"
            ax.set_xlabel(f"{rows['what'].iloc[0]}: change ({unit})", fontsize=8)
        plots.append(PlotFigure(f"compare_{kind}", "", {}, fig))
    save(plots, out / "figures")
    return plots


def _markdown(frame: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.6g}"
        return str(value).replace("|", "\\|")

    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return head + "".join("| " + " | ".join(cell(v) for v in row) + " |\n"
                          for row in frame.itertuples(index=False))


def _summary_lines(a: Side, b: Side, table: pd.DataFrame, only: pd.DataFrame,
                   threshold: float) -> list[str]:
    counts = table.drop_duplicates([*KEY, "verdict"])["verdict"].value_counts().to_dict() \
        if not table.empty else {}
    used = sorted(set(table["spread_from"])) if not table.empty else []
    return [
        f"A: {a.path} ({a.kind}); B: {b.path} ({b.kind})",
        f"Configurations compared: {len(table.drop_duplicates(KEY))}; in only one of A and "
        f"B: {len(only)}; with a regression: {counts.get('regression', 0)}; "
        f"with an improvement: {counts.get('improvement', 0)}.",
        f"A change counts when it exceeds the spread (sqrt(spread_A^2 + spread_B^2)) and "
        f"{threshold:g} % of A (loss: {threshold:g} percentage points). Spread from: "
        + ("; ".join(SPREAD_NAMES[u] for u in used) or "none") + ".",
    ]


def write_outputs(out: Path, a: Side, b: Side, table: pd.DataFrame, only: pd.DataFrame,
                  threshold: float, figures: bool) -> None:
    table.to_csv(out / "compare.csv", index=False)
    only.to_csv(out / "only_in_one.csv", index=False)
    lines = _summary_lines(a, b, table, only, threshold)
    shown = table.assign(configuration=labels(table))[["configuration", *SHOWN]] \
        if not table.empty else table
    md = ["# icperf compare", "", *(f"{line}  " for line in lines), "", _markdown(shown)]
    if not only.empty:
        md += ["", "## In only one of A and B", "", _markdown(only)]
    (out / "compare.md").write_text("\n".join(md), encoding="utf-8")
    body = ["<h1>icperf compare</h1>",
            "<p>" + "<br>".join(html.escape(line) for line in lines) + "<br>Generated "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC by icperf-analyze {__version__}.</p>"]
    if figures and not table.empty:
        for plot in _figures(table, threshold, out):
            data = base64.b64encode(plot.files[0].read_bytes()).decode("ascii")
            body.append(f"<figure><img alt='{plot.kind}' src='data:image/png;base64,{data}'>"
                        "</figure>")
    body += ["<h2>Changes</h2>",
             _table(shown) if not table.empty else "<p>No configuration in both.</p>",
             "<h2>In only one of A and B</h2>",
             _table(only) if not only.empty else "<p>None.</p>"]
    (out / "compare.html").write_text(
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>icperf compare</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body) + "\n</body></html>\n", encoding="utf-8")
