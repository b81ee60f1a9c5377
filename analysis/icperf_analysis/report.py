"""A self-contained HTML report: figures embedded as base64 PNG, tables, hosts, problems."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from . import __version__, line_rate
from .aggregate import Aggregates, Window
from .cpu import REPORT_COLUMNS
from .figures import FIGURE_TYPES, FigureSet, PlotFigure
from .load import PARAM_COLUMNS, Dataset

_CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
figure { margin: 1em 0; }
figcaption { font-size: 13px; color: #444; }
img { max-width: 100%; }
.bad { color: #a00; }
"""
SUMMARY_COLUMNS = ["id", "status", "partial", "short", "shared_cores", "sender_short",
                   *PARAM_COLUMNS, "line_rate_bps", "seconds_used", "sent_per_sender_pps",
                   "rate_shortfall", "m_mpps", "t_mpps", "t_gbps_l2", "t_gbps_l1",
                   *REPORT_COLUMNS, "loss_ratio", "rate_cv_max", "rtt_mean_us", "rtt_p50_us",
                   "rtt_p99_us", "is_max"]


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.6g}",
                         border=0)


def _problems(summary: pd.DataFrame) -> str:
    bad = summary[(summary["status"] != "ok") | summary["partial"].astype(bool)]
    if bad.empty:
        return "<p>None: every test ran and every log was complete.</p>"
    columns = ["id", "path", "status", "reason", "problems"]
    return _table(bad[columns].rename(columns={"problems": "partial because"}))


def _short(summary: pd.DataFrame, window: Window) -> str:
    short = summary[summary["short"].astype(bool)]
    if short.empty:
        return ""
    text = (f"<p class='bad'>These tests ran {window.warmup + window.cooldown} s or less, "
            f"too short to drop {window.warmup} s of warm-up and {window.cooldown} s of "
            "shutdown: all their seconds were kept.</p>")
    return text + _table(short[["id", "path", "seconds_used"]])


def _marks(summary: pd.DataFrame) -> str:
    """What the shared_cores and sender_short columns of the tables mean, and which tests."""
    parts = []
    shared = summary.loc[summary["shared_cores"].eq(True), "path"]
    if not shared.empty:
        parts.append("<p class='bad'><code>shared_cores</code> = True: the busy pollers of "
                     "these tests (switch cores, DPDK applets, non-blocking sockets) share a "
                     "core with other pollers, so they measure the scheduler as much as the "
                     f"switch: {html.escape(', '.join(shared.astype(str)))}.</p>")
    short = summary.loc[summary["sender_short"].eq(True), "path"]
    if not short.empty:
        parts.append("<p class='bad'><code>sender_short</code> = True: a sender of these tests "
                     "sent more than 1 % below the requested rate R "
                     "(<code>rate_shortfall</code>); the receiving rate figure draws every test "
                     "at the rate its senders achieved (<code>sent_per_sender_pps</code>), R "
                     f"as a tick: {html.escape(', '.join(short.astype(str)))}.</p>")
    return "\n".join(parts)


def _table_note(summary: pd.DataFrame) -> str:
    if not (summary["shared_cores"].eq(True) | summary["sender_short"].eq(True)).any():
        return ""
    return ("<p>Rows with <code>shared_cores</code> or <code>sender_short</code> True: see "
            "<em>Shared cores and short senders</em> above.</p>")


def _hosts(summary: pd.DataFrame) -> str:
    facts = [c for c in summary.columns if c.startswith(("host_", "versions_"))]
    if not facts:
        return "<p>No test recorded host facts (thesis logs carry none).</p>"
    has_facts = summary[facts].notna().any(axis=1)
    known = summary[has_facts]
    grouped = (known[[*facts, "id"]].astype(dict.fromkeys(facts, str))
               .groupby(facts, sort=False, dropna=False)["id"]
               .agg(lambda ids: ", ".join(ids)).reset_index()
               .rename(columns={"id": "tests"}))
    text = _table(grouped.replace({"None": "", "nan": ""}))
    missing = summary.loc[~has_facts, "id"]
    if not missing.empty:
        text += f"<p>Without host facts: {html.escape(', '.join(missing))}</p>"
    return text


def _figures(figures: FigureSet) -> str:
    parts = []
    for figure_type in FIGURE_TYPES:
        heading = figure_type.title + (f" (thesis fig. {figure_type.thesis})"
                                       if figure_type.thesis else "")
        parts.append(f"<h3>{html.escape(heading)}</h3>")
        if figure_type.kind in figures.skipped:
            reason = figures.skipped[figure_type.kind]
            parts.append(f"<p>Skipped: {html.escape(reason)}.</p>")
            continue
        parts += [figure_html(plot) for plot in figures.figures if plot.kind == figure_type.kind]
    return "\n".join(parts)


def figure_html(plot: PlotFigure) -> str:
    """A saved figure embedded as base64 PNG with its caption ("" when it has no PNG)."""
    png = next((p for p in plot.files if p.suffix == ".png"), None)
    if png is None:
        return ""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    caption = "<br>".join(html.escape(text) for text in [plot.label, *plot.notes])
    return (f"<figure><img alt='{html.escape(plot.label)}' "
            f"src='data:image/png;base64,{data}'><figcaption>{caption}</figcaption></figure>")


def _test_columns(summary: pd.DataFrame) -> list[str]:
    """The per-test table's columns: the summary's main ones and the poller settings."""
    settings = sorted(c for c in summary.columns if c.startswith("setting_"))
    # Trees without CPU records or line rates (older ones, local tests, thesis logs) get no
    # empty columns for them.
    optional = {*REPORT_COLUMNS, "line_rate_bps"}
    shown = [c for c in SUMMARY_COLUMNS
             if c in summary and not (c in optional and summary[c].isna().all())]
    return shown + settings


def render(dataset: Dataset, agg: Aggregates, figures: FigureSet | None, window: Window,
           extra: str = "") -> str:
    """The report; ``extra`` is HTML of further sections (e.g. rate searches), after the
    figures."""
    s = agg.summary
    counts = s["source"].value_counts().to_dict()
    sources = ", ".join(f"{n} {src}" for src, n in counts.items())
    failed = int((s["status"] != "ok").sum())
    partial = int(s["partial"].astype(bool).sum())
    notes = s[s["notes"].fillna("") != ""] if "notes" in s else s.iloc[0:0]
    body = [
        "<h1>icperf results</h1>",
        f"<p>Results directory: <code>{html.escape(str(dataset.root))}</code><br>"
        f"Tests: {len(s)} ({html.escape(sources)}); failed: {failed}; partial: {partial}; "
        f"per-second records: {len(dataset.seconds)}.<br>"
        f"Dropped per app: first {window.warmup} s (warm-up) and last {window.cooldown} s "
        f"(shutdown).<br>Generated {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC by "
        f"icperf-analyze {__version__}.</p>",
        "<h2>Failed and partial tests</h2>", _problems(s), _short(s, window),
    ]
    marks = _marks(s)
    if marks:
        body += ["<h2>Shared cores and short senders</h2>", marks]
    if not notes.empty:
        body += ["<h2>Notes</h2>", _table(notes[["id", "notes"]])]
    if dataset.ignored:
        body += ["<h2>Folders ignored</h2>",
                 "<p>Leaf folders holding files but neither a test.json nor thesis statistics "
                 "lines:</p><ul>"
                 + "".join(f"<li>{html.escape(p)}</li>" for p in dataset.ignored) + "</ul>"]
    body.append("<h2>Figures</h2>")
    if figures is None:
        body.append("<p>Figures not drawn.</p>")
    else:
        if figures.line_bps is not None:
            body.append(line_rate.describe(agg.maxima, figures.line_bps))
        body.append(_figures(figures))
    if extra:
        body.append(extra)
    body += ["<h2>Maximum throughput per configuration</h2>",
             _table(agg.maxima) if not agg.maxima.empty else "<p>No throughput test.</p>",
             _table_note(s),
             "<h2>Tests</h2>", _table(s[_test_columns(s)]), _table_note(s),
             "<h2>Hosts and versions</h2>", _hosts(s)]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>icperf results</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write(path: Path, dataset: Dataset, agg: Aggregates, figures: FigureSet | None,
          window: Window, extra: str = "") -> None:
    path.write_text(render(dataset, agg, figures, window, extra), encoding="utf-8")
