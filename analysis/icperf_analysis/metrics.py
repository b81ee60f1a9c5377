"""Per-test metrics that `icperf-analyze compare` compares, each with its per-second spread.

The spread of a metric within one test is the standard deviation, over the steady-state
seconds, of that metric computed second by second: M from the receivers' rates of the second,
loss from the second's sent and received packets, an RTT percentile from the clients' records
of the second. It stands for the run-to-run spread when a configuration ran once; when it ran
several times, compare uses the spread between those trials instead (compare.py).

The table is written into every report directory as metrics.csv, so two reports can be
compared without their results trees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .aggregate import RATE_OF_ROLE, RECEIVER_ROLES, SENDER_ROLES, Aggregates
from .histogram import PERCENTILES
from .load import IDENTITY_COLUMNS, Dataset

METRICS_FILE = "metrics.csv"
# metric column, what it is, the better direction (+1: higher is better).
METRICS: tuple[tuple[str, str, int], ...] = (
    ("m_pps", "M, mean receiving rate per app (pps)", +1),
    ("t_pps", "T, total throughput (pps)", +1),
    ("loss_ratio", "loss ratio", -1),
    *((f"rtt_{p}_us", f"RTT {p} (us)", -1) for p in PERCENTILES),
)
TEST_COLUMNS = ("id", "path", "source", "status", *IDENTITY_COLUMNS, "seconds_used")


def _per_second(dataset: Dataset, agg: Aggregates) -> pd.DataFrame:
    """Steady seconds with each app's role and rate."""
    s = dataset.seconds.loc[agg.kept, ["test_idx", "app_idx", "sec", "sent", "rx", "echoed",
                                       *(f"rtt_{p}_ns" for p in PERCENTILES)]]
    roles = dataset.apps["role"].to_numpy()[s["app_idx"].to_numpy()]
    rate = np.full(len(s), np.nan)
    for role, column in RATE_OF_ROLE.items():
        chosen = roles == role
        rate[chosen] = s[column].to_numpy()[chosen]
    return s.assign(role=roles, rate=rate)


def _std(series: pd.Series) -> pd.Series:
    return series.groupby(level="test_idx").std(ddof=1)


def test_metrics(dataset: Dataset, agg: Aggregates) -> pd.DataFrame:
    """One row per test: its identity, the metrics and `<metric>_spread` columns."""
    summary = agg.summary
    out = summary[[c for c in TEST_COLUMNS if c in summary]].copy()
    for column, _what, _better in METRICS:
        out[column] = summary.get(column, np.nan)
    s = _per_second(dataset, agg)
    receivers = s[s["role"].isin(RECEIVER_ROLES)]
    senders = s[s["role"].isin(SENDER_ROLES)]
    m = receivers.groupby(["test_idx", "sec"])["rate"].mean()
    out["m_pps_spread"] = _std(m)
    out["t_pps_spread"] = out["m_pps_spread"] * out["pairs"].astype(float)
    received = receivers.groupby(["test_idx", "sec"])["rate"].sum()
    sent = senders.groupby(["test_idx", "sec"])["sent"].sum()
    out["loss_ratio_spread"] = _std(1.0 - received / sent.reindex(received.index))
    clients = s[s["role"] == "client"]
    for p in PERCENTILES:
        per_second = clients.groupby(["test_idx", "sec"])[f"rtt_{p}_ns"].mean() / 1000.0
        out[f"rtt_{p}_us_spread"] = _std(per_second)
    out["seconds_used"] = summary["seconds_used"]
    return out.reset_index(drop=True)
