"""Shared machinery of the figures: grouping by fixed parameters, thesis tuple labels, saving.

Figures are built as `matplotlib.figure.Figure` objects without pyplot, so nothing depends on
a global backend or state, and callers (and tests) can inspect their lines and labels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .aggregate import SHORTFALL_TOLERANCE, VARIANT_COLUMNS
from .load import IDENTITY_COLUMNS

# Table 5.1 of the thesis: parameter symbols, in the order its tuples list them.
SYMBOLS = {"dimension": "D", "hosts": "L", "lab": "S", "vswitch": "V", "pkt_size": "P",
           "rate": "R", "burst": "B"}
# The cores a switch polls on belong to the switch (linux-bridge polls none, the DPDK switches
# one or more): they tell series apart, so that switches stay side by side in one figure.
FIGURE_VARIANTS = tuple(c for c in VARIANT_COLUMNS if c != "switch_cores")
SERIES_KEY = ["vswitch", "source", "switch_cores"]
SHA_SHOWN = 12  # hex digits of lab_sha256 in titles and legends, like a short git hash


@dataclass
class FigureType:
    kind: str
    thesis: str
    title: str


FIGURE_TYPES = (
    FigureType("rx_vs_tx", "5.1", "Receiving rate vs sending rate"),
    FigureType("max_vs_pkt", "5.2-5.5", "Maximum throughput vs packet size"),
    FigureType("vs_pairs", "5.6-5.8", "Maximum per-app and total throughput vs number of pairs"),
    FigureType("rtt_vs_pkt", "5.9-5.11", "Round-trip time vs packet size"),
    FigureType("rtt_pct_vs_pkt", "5.9-5.11",
               "Round-trip time percentiles vs packet size, per switch"),
    # Not in the thesis: its future work asks what a switch costs in CPU (docs/analysis.md).
    FigureType("cycles_vs_pkt", "", "CPU cycles per packet vs packet size"),
)


@dataclass
class PlotFigure:
    kind: str
    label: str  # the fixed parameters in thesis tuple notation
    key: dict[str, Any]
    figure: Figure
    name: str = ""  # file stem, set when saved
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # caveats on the tests drawn, for captions


@dataclass
class FigureSet:
    figures: list[PlotFigure] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why none was drawn
    # The --line-rate-gbps rate they were drawn with, for tests that recorded none.
    line_bps: float | None = None


def format_rate(rate: float) -> str:
    """Rates as the thesis writes them: 1M, 2.5M, 1000."""
    if rate >= 1_000_000 and rate % 100_000 == 0:
        return f"{rate / 1e6:g}M"
    return f"{rate:g}"


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _term(column: str, value: float | str) -> str:
    """'S = 1vs1', 'R = 1M', 'raw = True', 'lab_sha256 = 1a2b3c4d5e6f'."""
    if column == "rate":
        text = format_rate(float(value))
    elif column == "lab_sha256":
        text = str(value)[:SHA_SHOWN]
    else:
        text = str(value)
    return f"{SYMBOLS.get(column, column)} = {text}"


def tuple_label(key: dict[str, Any]) -> str:
    """'(D = throughput, L = local, S = 1vs1, B = 32)' plus any other fixed parameter."""
    columns = [c for c in SYMBOLS if c in key] + [c for c in key if c not in SYMBOLS]
    return "(" + ", ".join(_term(c, key[c]) for c in columns if not _is_missing(key[c])) + ")"


def varying_variants(data: pd.DataFrame, keys: Sequence[str],
                     exclude: Sequence[str] = ()) -> list[str]:
    """Variant parameters taking several values among the icperf tests of one figure group.

    Looked at within groups of `keys`, not over the whole tree: lab_sha256 differs between
    labs 1vs1 and 2vs2 anyway, and splits a figure only when one lab name has two contents.
    """
    icperf = data[data["source"] == "icperf"]
    candidates = [c for c in FIGURE_VARIANTS if c in icperf and c not in exclude]
    if icperf.empty or not candidates:
        return []
    counts = icperf.groupby(list(keys), dropna=False)[candidates].nunique(dropna=False)
    return [c for c in candidates if (counts[c] > 1).any()]


def _matching(data: pd.DataFrame, keys: Sequence[str], values: Sequence[Any]) -> pd.Series:
    mask = pd.Series(True, index=data.index)
    for column, value in zip(keys, values, strict=True):
        mask &= data[column].isna() if _is_missing(value) else data[column] == value
    return mask


def fixed_groups(
    data: pd.DataFrame, keys: Sequence[str], variants: Sequence[str]
) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """Groups of rows sharing the fixed parameters.

    Thesis logs do not record the variant parameters (raw, blocking, ...), so thesis rows join
    every icperf group with the same main keys, for comparison, and form their own group when
    there is none.
    """
    keys, variants = list(keys), list(variants)
    thesis = data[data["source"] == "thesis"]
    icperf = data[data["source"] != "thesis"]
    covered: list[tuple[Any, ...]] = []
    if not icperf.empty:
        for values, part in icperf.groupby(keys + variants, dropna=False, sort=True):
            main = tuple(values[: len(keys)])
            covered.append(main)
            extra = thesis[_matching(thesis, keys, main)]
            yield dict(zip(keys + variants, values, strict=True)), pd.concat([part, extra])
    if not thesis.empty:
        for values, part in thesis.groupby(keys, dropna=False, sort=True):
            if not any(_same(values, c) for c in covered):
                yield dict(zip(keys, values, strict=True)), part


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return all((_is_missing(x) and _is_missing(y)) or x == y for x, y in zip(a, b, strict=True))


def _split_columns(part: pd.DataFrame, x: str) -> list[str]:
    """Identity columns that still differ between rows of one series at the same x.

    Rows left at the same x are then repeats of one test and may be averaged; any other
    column that differs (e.g. two labs with as many pairs in a figure against N) makes
    separate series, so that different tests are never averaged together.
    """
    split: list[str] = []
    for column in IDENTITY_COLUMNS:
        if column == x or column in SERIES_KEY or column not in part:
            continue
        by = [*SERIES_KEY, x, *split]
        if (part.groupby(by, dropna=False)[column].nunique(dropna=False) > 1).any():
            split.append(column)
    return split


def _cores(n: float) -> str:
    return f" ({int(n)} switch core{'' if int(n) == 1 else 's'})"


def series(part: pd.DataFrame, x: str) -> Iterator[tuple[str, pd.DataFrame]]:
    """One series per virtual switch (and its cores, when they vary) and source.

    Thesis data is labelled as such; see _split_columns for what else separates series.
    """
    cores_vary = part.groupby("vswitch")["switch_cores"].nunique() > 1
    split = _split_columns(part, x)
    for values, rows in part.groupby([*SERIES_KEY, *split], dropna=False, sort=True):
        vswitch, source, cores, *extra = values
        name = str(vswitch)
        if cores_vary.get(vswitch, False) and not _is_missing(cores):
            name += _cores(cores)
        if source == "thesis":
            name += " (thesis)"
        name += "".join(f", {_term(c, v)}" for c, v in zip(split, extra, strict=True))
        yield name, rows


def xy(rows: pd.DataFrame, x: str, y: str) -> pd.Series:
    """y by ascending x; repeats of one test at the same x are averaged, missing y left out."""
    return rows.dropna(subset=[y]).groupby(x, sort=True)[y].mean()


def flag_notes(rows: pd.DataFrame) -> list[str]:
    """Caveats on the tests drawn in a figure, naming them by folder."""
    path = "path" if "path" in rows else "at_path"
    notes = []
    shared = rows.loc[rows["shared_cores"].eq(True), path]
    if not shared.empty:
        notes.append(f"shared cores: {', '.join(sorted(shared.astype(str).unique()))} (their "
                     "busy pollers share a core, so they measure the scheduler as much as "
                     "the switch)")
    short = rows.loc[rows["sender_short"].eq(True), path]
    if not short.empty:
        notes.append(f"sender short of R by more than {SHORTFALL_TOLERANCE * 100:g} %: "
                     f"{', '.join(sorted(short.astype(str).unique()))}")
    return notes


def new_figure(panels: int, label: str, title: str) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(5.5 * panels, 4.2), layout="constrained")
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    fig.suptitle(f"{title}\n{label}", fontsize=10)
    return fig, axes


def _slug(key: dict[str, Any]) -> str:
    parts = []
    for column, value in key.items():
        if _is_missing(value):
            continue
        symbol = SYMBOLS.get(column, column)
        parts.append(str(value) if symbol in ("D", "L", "S") else f"{symbol}{value}")
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", "_".join(parts)) or "all"


def save(figures: list[PlotFigure], directory: Path) -> None:
    """Write every figure as PNG and SVG under unique names."""
    directory.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for plot in figures:
        name = f"{plot.kind}_{_slug(plot.key)}"
        stem, n = name, 2
        while stem in used:
            stem, n = f"{name}_{n}", n + 1
        used.add(stem)
        plot.name = stem
        plot.files = [directory / f"{stem}.png", directory / f"{stem}.svg"]
        plot.figure.savefig(plot.files[0], dpi=100)
        plot.figure.savefig(plot.files[1])
