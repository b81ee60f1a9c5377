"""Aggregation as the thesis does it (docs/analysis.md): steady-state app rates, M, T, maxima."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import cpu, histogram, units
from .load import IDENTITY_COLUMNS, Dataset

# The per-second number that is "the rate" of each kind of app.
RATE_OF_ROLE = {"send": "sent", "recv": "rx", "client": "echoed", "server": "rx"}
RECEIVER_ROLES = ("recv", "client")
SENDER_ROLES = ("send", "client")
MEAN_COLUMNS = ("attempted", "sent", "dropped", "rx", "tx", "echoed")
SUM_COLUMNS = ("lost", "reordered", "duplicated")
# Parameters that, with the thesis' main ones (D, L, S, V, P, R, B), identify a test: tests
# differing in any of them are different tests, never averaged or compared for a maximum.
VARIANT_COLUMNS = ("lab_sha256", "duration", "raw", "blocking", "consume", "multi", "debug",
                   "xdp", "switch_cores")
MAX_GROUP = ("source", "dimension", "hosts", "lab", "pairs", "vswitch", "pkt_size", "burst",
             *VARIANT_COLUMNS)
# A sender is short when it sent less than this fraction below the requested rate R: pacing
# jitter stays well inside 1 %, a sender that cannot keep up does not.
SHORTFALL_TOLERANCE = 0.01


@dataclass(frozen=True)
class Window:
    """Seconds dropped at the start (warm-up) and at the end (shutdown) of every app's run."""

    warmup: int = 5
    cooldown: int = 5


@dataclass
class Aggregates:
    kept: np.ndarray  # bool per row of Dataset.seconds: inside the steady-state window
    apps: pd.DataFrame  # one row per app: Dataset.apps plus steady-state statistics
    summary: pd.DataFrame  # one row per test
    maxima: pd.DataFrame  # best test per configuration over the swept rates


@dataclass(frozen=True)
class _Runs:
    """Rows of a per-second table taken app by app: `rows` (positions in the table) in runs
    of one app each, run i starting at starts[i] and belonging to app ids[i].

    The loader writes each app's seconds together, so the runs are the table's own order
    and no row moves; any other table is sorted by app first (stably: the seconds of an
    app keep their order).
    """

    rows: np.ndarray
    starts: np.ndarray
    ids: np.ndarray

    @classmethod
    def of(cls, app_idx: np.ndarray, rows: np.ndarray) -> _Runs:
        apps = app_idx[rows]
        if (apps[1:] < apps[:-1]).any():
            order = np.argsort(apps, kind="stable")
            rows, apps = rows[order], apps[order]
        starts = np.flatnonzero(np.diff(apps, prepend=-1))  # app_idx is never negative
        return cls(rows, starts, apps[starts])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts, append=len(self.rows))

    def sums(self, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum of each run's values that are not NaN, and how many there are."""
        values = column[self.rows]  # a copy, cleared of NaN in place
        unknown = np.isnan(values)
        values[unknown] = 0.0
        counts = self.lengths - np.add.reduceat(unknown, self.starts, dtype=np.int64)
        return np.add.reduceat(values, self.starts), counts


def steady_window(seconds: pd.DataFrame, window: Window) -> tuple[np.ndarray, pd.Series]:
    """Rows inside each app's steady-state window, and which apps ran too short to trim.

    An app whose last second is at most warmup + cooldown keeps all its seconds (flagged short)
    rather than losing all of them.
    """
    sec = seconds["sec"].to_numpy()
    if not len(sec):
        return np.zeros(0, bool), pd.Series(dtype=bool)
    runs = _Runs.of(seconds["app_idx"].to_numpy(), np.arange(len(sec)))
    last_of_app = np.fmax.reduceat(sec[runs.rows], runs.starts)  # NaN-skipping max
    last = np.empty(len(sec))
    last[runs.rows] = np.repeat(last_of_app, runs.lengths)
    short = last <= window.warmup + window.cooldown
    inside = (sec > window.warmup) & (sec <= last - window.cooldown)
    short_apps = pd.Series(last_of_app <= window.warmup + window.cooldown, index=runs.ids)
    return inside | short, short_apps


def app_statistics(dataset: Dataset, kept: np.ndarray, short_apps: pd.Series) -> pd.DataFrame:
    """Mean, standard deviation and coefficient of variation of each app's rate, and more.

    The per-second table is read one column at a time and never copied whole. The means and
    sums of counters are exact (integers far below 2**53, whatever the order of addition);
    the rate's mean and deviation come from pandas as the thesis' figures do.
    """
    seconds = dataset.seconds
    apps = dataset.apps
    app_idx = seconds["app_idx"].to_numpy()
    runs = _Runs.of(app_idx, np.flatnonzero(kept))
    # The rate of each row is the counter its app's role reports as its rate.
    role_codes = np.full(int(apps.index.max()) + 1 if len(apps) else 0, -1, np.int8)
    for code, role in enumerate(RATE_OF_ROLE):
        role_codes[apps.index[apps["role"] == role].to_numpy()] = code
    row_roles = role_codes[app_idx[runs.rows]]
    rate = np.full(len(runs.rows), np.nan)
    for code, column in enumerate(RATE_OF_ROLE.values()):
        chosen = row_roles == code
        rate[chosen] = seconds[column].to_numpy()[runs.rows[chosen]]
    groups = pd.Series(rate).groupby(app_idx[runs.rows])
    stats = pd.DataFrame({"seconds_used": groups.size(), "rate_mean": groups.mean(),
                          "rate_std": groups.std(ddof=1)})
    del rate, groups, row_roles
    if len(runs.rows):
        with np.errstate(invalid="ignore", divide="ignore"):
            for name in MEAN_COLUMNS:
                sums, counts = runs.sums(seconds[name].to_numpy())
                stats[f"{name}_mean"] = sums / counts
            for name in SUM_COLUMNS:
                sums, counts = runs.sums(seconds[name].to_numpy())
                stats[name] = np.where(counts > 0, sums, np.nan)
            rtt = seconds["rtt_mean_ns"].to_numpy()
            echoed = seconds["echoed"].to_numpy()
            weighted, n_weighted = runs.sums(rtt * echoed)
            weight, n_weight = runs.sums(np.where(np.isnan(rtt), np.nan, echoed))
            stats["rtt_steady_mean_ns"] = (np.where(n_weighted > 0, weighted, np.nan)
                                           / np.where(n_weight > 0, weight, np.nan))
    else:
        for name in (*(f"{c}_mean" for c in MEAN_COLUMNS), *SUM_COLUMNS, "rtt_steady_mean_ns"):
            stats[name] = np.nan
    apps = apps.join(stats)
    apps["seconds_used"] = apps["seconds_used"].fillna(0).astype(int)
    apps["rate_cv"] = apps["rate_std"] / apps["rate_mean"]
    apps["short"] = short_apps.reindex(apps.index, fill_value=False).astype(bool)
    return apps


def _sum_all(values: pd.Series, by: pd.Series, how: str = "sum") -> pd.Series:
    """Group sums (or `how`) that are NaN when any member is NaN: a missing app is not a zero."""
    groups = values.groupby(by)
    return groups.agg(how).where(groups.count() == groups.size())


def test_summary(dataset: Dataset, apps: pd.DataFrame) -> pd.DataFrame:
    """One row per test: M, T, loss, throughput in Mpps and Gbps, latency."""
    tests = dataset.tests
    out = tests.copy()
    receivers = apps[apps["role"].isin(RECEIVER_ROLES)]
    senders = apps[apps["role"].isin(SENDER_ROLES)]
    out["n_receivers"] = receivers.groupby("test_idx").size()
    out["n_receivers"] = out["n_receivers"].fillna(0).astype(int)
    out["m_pps"] = receivers.groupby("test_idx")["rate_mean"].mean(skipna=False)
    out["t_pps"] = out["m_pps"] * out["pairs"].astype(float)
    out["sum_rx_pps"] = _sum_all(receivers["rate_mean"], receivers["test_idx"])
    out["sent_pps"] = _sum_all(senders["sent_mean"], senders["test_idx"])
    out["offered_pps"] = _sum_all(senders["attempted_mean"], senders["test_idx"])
    # R is per sender: what each sender achieved is what fig. 5.1 plots, and the slowest
    # sender says whether the test ran at the rate it was asked for.
    out["sent_per_sender_pps"] = _sum_all(senders["sent_mean"], senders["test_idx"], "mean")
    slowest = _sum_all(senders["sent_mean"], senders["test_idx"], "min")
    out["rate_shortfall"] = 1.0 - slowest / out["rate"].astype(float)
    out["sender_short"] = (out["rate_shortfall"] > SHORTFALL_TOLERANCE).astype(bool)
    # Whole-run counts when every app wrote a summary: each app's steady window is its own
    # seconds, so a sender's and its receiver's mean rates differ by more than the loss.
    # Logs without summaries (the thesis' text logs) fall back to the steady rates.
    rx_total = _sum_all(receivers["rx_total"], receivers["test_idx"])
    sent_total = _sum_all(senders["sent_total"], senders["test_idx"])
    by_rate = 1.0 - out["sum_rx_pps"] / out["sent_pps"]
    out["loss_ratio"] = (1.0 - rx_total / sent_total).reindex(out.index).fillna(by_rate)
    dropped = _sum_all(senders["dropped_mean"], senders["test_idx"])
    out["drop_ratio"] = dropped / out["offered_pps"]
    out["rate_cv_max"] = apps.groupby("test_idx")["rate_cv"].max()
    out["seconds_used"] = apps.groupby("test_idx")["seconds_used"].min()
    out["short"] = apps.groupby("test_idx")["short"].any().reindex(out.index, fill_value=False)
    pkt = out["pkt_size"].astype(float)
    for name in ("m", "t"):
        pps = out[f"{name}_pps"]
        out[f"{name}_mpps"] = units.mpps(pps)
        out[f"{name}_gbps_l2"] = units.gbps_l2(pps, pkt)
        out[f"{name}_gbps_l1"] = units.gbps_l1(pps, pkt)
    return out.join(_latency(dataset, apps))


def _latency(dataset: Dataset, apps: pd.DataFrame) -> pd.DataFrame:
    """RTT per test from the merged client histograms, else from the per-second means."""
    clients = apps[apps["role"] == "client"]
    steady = clients.assign(w=clients["rtt_steady_mean_ns"] * clients["echoed_mean"])
    steady_groups = steady.groupby("test_idx")
    lat = pd.DataFrame(index=dataset.tests.index)
    lat["rtt_steady_mean_us"] = (
        steady_groups["w"].sum(min_count=1)
        / steady_groups["echoed_mean"].sum(min_count=1).where(steady_groups["w"].count() > 0)
    ) / 1000.0
    names = [f"rtt_{p}_us" for p in histogram.PERCENTILES]
    if dataset.hist.empty:
        for name in ["rtt_hist_count", "rtt_hist_mean_us", *names]:
            lat[name] = np.nan
    else:
        merged = histogram.merge(dataset.hist, ["test_idx"])
        hist = histogram.summarise(merged, ["test_idx"])
        # As the applets do: a bucket's midpoint may lie outside the RTTs actually measured.
        bounds = clients.groupby("test_idx").agg(low=("rtt_min_ns", "min"),
                                                 high=("rtt_max_ns", "max"))
        bounds = bounds.astype(float).reindex(hist.index)
        lat["rtt_hist_count"] = hist["count"]
        lat["rtt_hist_mean_us"] = hist["mean_ns"] / 1000.0
        for p in histogram.PERCENTILES:
            clamped = hist[f"{p}_ns"].clip(lower=bounds["low"], upper=bounds["high"])
            lat[f"rtt_{p}_us"] = clamped / 1000.0
    has_hist = lat["rtt_hist_mean_us"].notna()
    lat["rtt_mean_us"] = lat["rtt_hist_mean_us"].where(has_hist, lat["rtt_steady_mean_us"])
    lat["rtt_source"] = np.where(has_hist, "hist",
                                 np.where(lat["rtt_mean_us"].notna(), "seconds", None))
    return lat


def throughput_maxima(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """Best test over the swept rates per configuration; failed tests do not compete."""
    usable = summary[(summary["dimension"] == "throughput") & (summary["status"] == "ok")
                     & summary["m_pps"].notna()]
    best = usable.groupby(list(MAX_GROUP), dropna=False, sort=True)["m_pps"].idxmax()
    columns = [*MAX_GROUP, "rate", "id", "path", "partial", "shared_cores", "sender_short",
               "m_pps", "t_pps", "m_mpps", "t_mpps", "m_gbps_l2", "m_gbps_l1", "t_gbps_l2",
               "t_gbps_l1", "loss_ratio", "line_rate_bps",
               *(c for c in cpu.REPORT_COLUMNS if c in usable and usable[c].notna().any())]
    maxima = usable.loc[best.to_numpy(), columns].rename(
        columns={"rate": "at_rate", "id": "at_id", "path": "at_path"})
    return maxima.reset_index(drop=True), pd.Index(best.to_numpy())


SUMMARY_FIRST = ["id", "path", "source", "status", "reason", "partial", "problems", "short",
                 "shared_cores", "sender_short", *IDENTITY_COLUMNS, "seconds_used",
                 "n_receivers", "sent_per_sender_pps", "rate_shortfall"]


def aggregate(dataset: Dataset, window: Window) -> Aggregates:
    kept, short_apps = steady_window(dataset.seconds, window)
    apps = app_statistics(dataset, kept, short_apps)
    summary = cpu.add_cpu_columns(dataset.root, test_summary(dataset, apps),
                                  dataset.cpu_blocks)
    maxima, best = throughput_maxima(summary)
    summary["is_max"] = summary.index.isin(best)
    rest = [c for c in summary.columns if c not in SUMMARY_FIRST]
    summary = summary[[c for c in SUMMARY_FIRST if c in summary.columns] + rest]
    return Aggregates(kept=kept, apps=apps, summary=summary, maxima=maxima)
