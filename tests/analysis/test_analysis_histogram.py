from __future__ import annotations

import pandas as pd
import pytest

from icperf_analysis import histogram


def _buckets(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["test_idx", "value_ns", "count"])


def test_merge_adds_counts_of_equal_values() -> None:
    merged = histogram.merge(_buckets([(0, 30, 5), (0, 10, 1), (0, 30, 2), (1, 10, 4)]),
                             ["test_idx"])
    assert merged.to_dict("records") == [
        {"test_idx": 0, "value_ns": 10, "count": 1},
        {"test_idx": 0, "value_ns": 30, "count": 7},
        {"test_idx": 1, "value_ns": 10, "count": 4},
    ]


def test_merged_percentiles_come_from_counts_not_averages() -> None:
    # Client A: 90 x 10 us, 10 x 50 us (p50 10, p99 50); client B: 100 x 30 us (p50 30, p99 30).
    # Averaging their percentiles would give p50 20 and p99 40, values nobody measured.
    a = [(0, 10_000, 90), (0, 50_000, 10)]
    b = [(0, 30_000, 100)]
    merged = histogram.merge(_buckets(a + b), ["test_idx"])
    out = histogram.summarise(merged, ["test_idx"]).loc[0]
    assert out["count"] == 200
    assert out["p50_ns"] == 30_000  # rank 100: 90 at 10 us, the 100th is at 30 us
    assert out["p90_ns"] == 30_000  # rank 180
    assert out["p99_ns"] == 50_000  # rank 198 > 190
    assert out["p999_ns"] == 50_000
    assert out["mean_ns"] == pytest.approx((10_000 * 90 + 50_000 * 10 + 30_000 * 100) / 200)


def test_nearest_rank_at_exact_boundaries() -> None:
    # 10 samples: p90 is the 9th smallest, p99 and p99.9 the 10th.
    rows = [(0, v, 1) for v in range(1, 11)]
    out = histogram.summarise(histogram.merge(_buckets(rows), ["test_idx"]), ["test_idx"]).loc[0]
    assert (out["p50_ns"], out["p90_ns"], out["p99_ns"], out["p999_ns"]) == (5, 9, 10, 10)


def test_groups_are_independent() -> None:
    rows = [(0, 100, 1), (1, 5, 3), (1, 7, 1)]
    out = histogram.summarise(histogram.merge(_buckets(rows), ["test_idx"]), ["test_idx"])
    assert out.loc[0, "p50_ns"] == 100
    assert out.loc[1, "p50_ns"] == 5
    assert out.loc[1, "p99_ns"] == 7
