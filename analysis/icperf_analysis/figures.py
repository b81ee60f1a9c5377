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

from .aggregate import VARIANT_COLUMNS

# Table 5.1 of the thesis: parameter symbols, in the order its tuples list them.
SYMBOLS = {"dimension": "D", "hosts": "L", "lab": "S", "vswitch": "V", "pkt_size": "P",
           "rate": "R", "burst": "B"}


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
)


@dataclass
class PlotFigure:
    kind: str
    label: str  # the fixed parameters in thesis tuple notation
    key: dict[str, Any]
    figure: Figure
    name: str = ""  # file stem, set when saved
    files: list[Path] = field(default_factory=list)


@dataclass
class FigureSet:
    figures: list[PlotFigure] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why none was drawn


def format_rate(rate: float) -> str:
    """Rates as the thesis writes them: 1M, 2.5M, 1000."""
    if rate >= 1_000_000 and rate % 100_000 == 0:
        return f"{rate / 1e6:g}M"
    return f"{rate:g}"


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def tuple_label(key: dict[str, Any]) -> str:
    """'(D = throughput, L = local, S = 1vs1, B = 32)' plus any other fixed parameter."""
    parts = []
    for column, symbol in SYMBOLS.items():
        if column in key and not _is_missing(key[column]):
            value = key[column]
            text = format_rate(float(value)) if column == "rate" else str(value)
            parts.append(f"{symbol} = {text}")
    for column, value in key.items():
        if column not in SYMBOLS and not _is_missing(value):
            parts.append(f"{column} = {value}")
    return "(" + ", ".join(parts) + ")"


def varying_variants(data: pd.DataFrame) -> list[str]:
    """Variant parameters that take more than one value among the icperf tests."""
    icperf = data[data["source"] == "icperf"]
    return [c for c in VARIANT_COLUMNS if c in icperf and icperf[c].nunique(dropna=False) > 1]


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


def series(part: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """One series per virtual switch and source; thesis data is labelled as such."""
    for (vswitch, source), rows in part.groupby(["vswitch", "source"], sort=True):
        yield (f"{vswitch} (thesis)" if source == "thesis" else str(vswitch)), rows


def xy(rows: pd.DataFrame, x: str, y: str) -> pd.Series:
    """y by ascending x; repeated runs at the same x are averaged, missing y left out."""
    return rows.dropna(subset=[y]).groupby(x, sort=True)[y].mean()


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
