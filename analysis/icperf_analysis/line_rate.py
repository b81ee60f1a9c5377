"""The link's line rate, drawn as reference in the figures of tests across hosts.

A test across hosts records the link it crossed in test.json (`line_rate_bps`: the slowest lab
NIC on its path). Older records and thesis logs do not; theirs is the rate --line-rate-gbps
gives.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

RECORDED = "recorded"
OPTION = "--line-rate-gbps"
COLUMN = "line_rate_bps"


@dataclass(frozen=True)
class LineRate:
    bps: float
    source: str  # RECORDED, OPTION, or both when rows of each came to the same rate
    rows: int  # how many of the rows given it stands for


def gbe(bps: float) -> str:
    return f"{bps / 1e9:g} GbE"


def references(rows: pd.DataFrame, option_bps: float) -> list[LineRate]:
    """The line rates of `rows`, slowest first: each rate some row recorded, and option_bps
    for the rows that recorded none.

    Rows of one figure that crossed different links keep a reference each: a single one
    would put some of them against a link they never used.
    """
    recorded = rows[COLUMN] if COLUMN in rows else pd.Series(np.nan, index=rows.index)
    found = {float(bps): LineRate(float(bps), RECORDED, int(n))
             for bps, n in recorded.value_counts().items()}
    missing = int(recorded.isna().sum())
    if missing:
        same = found.get(option_bps)
        found[option_bps] = (LineRate(option_bps, OPTION, missing) if same is None else
                             LineRate(option_bps, f"{RECORDED}, {OPTION}", same.rows + missing))
    return sorted(found.values(), key=lambda ref: ref.bps)


def describe(maxima: pd.DataFrame, option_bps: float) -> str:
    """The report's account of the line rates the figures across hosts draw ("" when no
    configuration crossed hosts)."""
    remote = maxima[maxima["hosts"] == "remote"]
    if remote.empty:
        return ""
    parts = []
    for ref in references(remote, option_bps):
        configurations = f"{ref.rows} configuration{'' if ref.rows == 1 else 's'}"
        if ref.source == RECORDED:
            where = f"recorded in test.json ({configurations})"
        elif ref.source == OPTION:
            where = f"from {OPTION} ({configurations} without a recorded rate)"
        else:
            where = f"recorded in test.json and from {OPTION} ({configurations})"
        parts.append(f"{gbe(ref.bps)}, {where}")
    return ("<p>Line rate drawn in the figures of tests across hosts (L = remote): "
            + html.escape("; ".join(parts)) + ".</p>")
