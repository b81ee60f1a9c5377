"""Latency histograms: merging bucket counts and reading percentiles from them.

Percentiles of several runs or clients come from the merged counts (nearest rank), never from
averaging the runs' own percentiles, which is not a percentile of anything.
"""

from __future__ import annotations

import pandas as pd

# Percentiles in per mille, so the rank is exact integer arithmetic.
PERCENTILES = {"p50": 500, "p90": 900, "p99": 990, "p999": 999}


def merge(buckets: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Add the counts of equal bucket values within each group of `by`; values ascending."""
    merged = buckets.groupby([*by, "value_ns"], as_index=False, sort=True)["count"].sum()
    return merged[merged["count"] > 0].reset_index(drop=True)


def summarise(merged: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Count, mean and percentiles (ns) per group of a histogram sorted by value within groups.

    The percentile q is the smallest bucket value whose cumulative count reaches
    ceil(q * total) (the nearest-rank definition).
    """
    merged = merged.assign(weighted=merged["value_ns"].astype(float) * merged["count"])
    groups = merged.groupby(by, sort=True)
    cumulative = groups["count"].cumsum()
    total = groups["count"].transform("sum")
    out = groups.agg(count=("count", "sum"), weighted=("weighted", "sum"))
    out["mean_ns"] = out.pop("weighted") / out["count"]
    for name, per_mille in PERCENTILES.items():
        rank = (total * per_mille + 999) // 1000
        reached = merged.loc[cumulative >= rank]
        out[f"{name}_ns"] = reached.groupby(by, sort=True)["value_ns"].first()
    return out
