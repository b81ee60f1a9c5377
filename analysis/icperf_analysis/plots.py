"""The thesis' figure types (chapter 5), one figure per group of fixed parameters."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from . import units
from .aggregate import Aggregates
from .figures import (
    FIGURE_TYPES,
    FigureSet,
    PlotFigure,
    fixed_groups,
    flag_notes,
    new_figure,
    series,
    tuple_label,
    varying_variants,
    xy,
)
from .line_rate import LineRate, gbe, references

LINE_STYLE = {"marker": "o", "markersize": 4, "linewidth": 1.2}
REFERENCE_STYLE = {"color": "0.35", "linestyle": "--", "linewidth": 1.0}
# Line rates of one figure, slowest first: told apart by dashes as well as by the legend.
LINE_RATE_DASHES = ("--", ":", "-.")
_TITLES = {t.kind: t.title for t in FIGURE_TYPES}
SHORT_LABEL = "sender short of R by > 1 %"
SHARED_LABEL = "shared cores (busy pollers share a core)"
# Drawn over the points of flagged tests, in every panel that shows them.
FLAG_MARKS = (
    ("sender_short", SHORT_LABEL, {"marker": "x", "color": "tab:red", "markersize": 9}),
    ("shared_cores", SHARED_LABEL, {"marker": "s", "markersize": 10, "markerfacecolor": "none",
                                    "markeredgecolor": "black"}),
)
RTT_PERCENTILES = (("rtt_p50_us", "p50"), ("rtt_p99_us", "p99"), ("rtt_p999_us", "p99.9"))


def _line_rate_label(ref: LineRate, share: int = 1) -> str:
    base = f"{gbe(ref.bps)} line rate"
    return (base if share == 1 else f"{base} / {share}") + f" ({ref.source})"


def _line_rates(part: pd.DataFrame, line_bps: float) -> list[tuple[LineRate, dict[str, object]]]:
    """The group's line rates (line_rate.references), each with its line style."""
    return [(ref, REFERENCE_STYLE | {"linestyle": LINE_RATE_DASHES[i % len(LINE_RATE_DASHES)]})
            for i, ref in enumerate(references(part, line_bps))]


def _finish(ax: Axes, xlabel: str, ylabel: str, ticks: Sequence[float] = (),
            log_x: bool = False) -> None:
    if log_x:
        ax.set_xscale("log", base=2)
    if len(ticks):
        ax.set_xticks(sorted(ticks))
        ax.xaxis.set_major_formatter("{x:g}")
        ax.xaxis.set_minor_formatter("")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _mark(ax: Axes, rows: pd.DataFrame, x: str, y: str) -> None:
    """Flag the points of tests whose senders fell short or whose pollers shared cores."""
    for column, label, style in FLAG_MARKS:
        flagged = rows[rows[column].eq(True)].dropna(subset=[x, y])
        if not flagged.empty:
            ax.plot(flagged[x].to_numpy(float), flagged[y].to_numpy(float), linestyle="none",
                    label=label, **style)


def rx_vs_tx(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """Fig. 5.1: mean receiving rate M against the rate each sender achieved, per vswitch.

    The requested rate R is drawn as a tick at the same M: a sender that could not keep up
    then reads as such, not as packets lost between the containers.
    """
    s = agg.summary
    ok = s[(s["dimension"] == "throughput") & (s["status"] == "ok") & s["m_mpps"].notna()]
    data = ok[ok["sent_per_sender_pps"].notna()].assign(
        sent_mpps=lambda d: d["sent_per_sender_pps"] / 1e6, rate_mpps=lambda d: d["rate"] / 1e6)
    unknown = ok.loc[ok["sent_per_sender_pps"].isna(), "path"]
    keys = ["dimension", "hosts", "lab", "pkt_size", "burst"]
    out = []
    for key, part in fixed_groups(data, keys, varying_variants(data, keys)):
        label = tuple_label(key)
        fig, (ax,) = new_figure(1, label, _TITLES["rx_vs_tx"])
        for name, rows in series(part, "rate"):
            # Every test is a point: two tests do not become one by reaching the same rate.
            rows = rows.sort_values(["sent_mpps", "rate"])
            (line,) = ax.plot(rows["sent_mpps"], rows["m_mpps"], label=name, **LINE_STYLE)
            color = line.get_color()
            requested = rows.sort_values("rate")
            ax.plot(requested["rate_mpps"], requested["m_mpps"], linestyle="none", marker="|",
                    markersize=12, color=color, label=f"{name}: requested R")
            for row in rows[rows["sender_short"]].itertuples():
                ax.plot([row.sent_mpps, row.rate_mpps], [row.m_mpps, row.m_mpps], ":",
                        color=color, linewidth=0.8, label="_nolegend_")
        _mark(ax, part, "sent_mpps", "m_mpps")
        top = float(max(part["sent_mpps"].max(), part["rate_mpps"].max()))
        ax.plot([0, top], [0, top], label="M = sent (no loss)", **REFERENCE_STYLE)
        _finish(ax, "achieved sending rate per sender (Mpps)", "receiving rate M (Mpps)")
        plot = PlotFigure("rx_vs_tx", label, key, fig, notes=flag_notes(part))
        if not unknown.empty:
            plot.notes.append("not drawn, achieved sending rate unknown: "
                              + ", ".join(unknown.astype(str)))
        out.append(plot)
    return out


def max_vs_pkt(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """Figs. 5.2-5.5: best M over the swept rates against packet size, in Mpps and Gbps."""
    data = agg.maxima
    keys = ["dimension", "hosts", "lab", "burst"]
    out = []
    for key, part in fixed_groups(data, keys, varying_variants(data, keys)):
        label = tuple_label(key)
        fig, axes = new_figure(3, label, _TITLES["max_vs_pkt"])
        panels = (("m_mpps", "M (Mpps)"), ("m_gbps_l2", "M (Gbps, L2: frame bytes)"),
                  ("m_gbps_l1", "M (Gbps, L1: + FCS, preamble, IFG)"))
        for ax, (column, _ylabel) in zip(axes, panels, strict=True):
            for name, rows in series(part, "pkt_size"):
                curve = xy(rows, "pkt_size", column)
                ax.plot(curve.index, curve.to_numpy(), label=name, **LINE_STYLE)
            _mark(ax, part, "pkt_size", column)
        if key["hosts"] == "remote":
            pairs = int(part["pairs"].iloc[0])
            sizes = np.array(sorted(part["pkt_size"].unique()), dtype=float)
            for ref, style in _line_rates(part, line_bps):
                name = _line_rate_label(ref, pairs)
                axes[0].plot(sizes, units.mpps(units.line_rate_pps(sizes, ref.bps)) / pairs,
                             label=name, **style)
                axes[2].axhline(ref.bps / 1e9 / pairs, label=name, **style)
        for ax, (_column, ylabel) in zip(axes, panels, strict=True):
            _finish(ax, "packet size P (bytes)", ylabel, part["pkt_size"].unique(), log_x=True)
        out.append(PlotFigure("max_vs_pkt", label, key, fig, notes=flag_notes(part)))
    return out


def vs_pairs(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """Figs. 5.6-5.8: best per-app rate M and total T = M x N against the number of pairs N."""
    data = agg.maxima
    keys = ["dimension", "hosts", "pkt_size", "burst"]
    out = []
    # N comes with the lab, and so does the lab's content: lab_sha256 does not split these.
    variants = varying_variants(data, keys, exclude=("lab_sha256",))
    for key, part in fixed_groups(data, keys, variants):
        label = tuple_label(key)
        fig, axes = new_figure(3, label, _TITLES["vs_pairs"])
        panels = (("m_mpps", "per-app M (Mpps)"), ("t_mpps", "total T (Mpps)"),
                  ("t_gbps_l1", "total T (Gbps, L1)"))
        for ax, (column, _ylabel) in zip(axes, panels, strict=True):
            for name, rows in series(part, "pairs"):
                curve = xy(rows, "pairs", column)
                ax.plot(curve.index, curve.to_numpy(), label=name, **LINE_STYLE)
            _mark(ax, part, "pairs", column)
        if key["hosts"] == "remote":
            for ref, style in _line_rates(part, line_bps):
                name = _line_rate_label(ref)
                pps = units.line_rate_pps(float(key["pkt_size"]), ref.bps)
                axes[1].axhline(units.mpps(pps), label=name, **style)
                axes[2].axhline(ref.bps / 1e9, label=name, **style)
        for ax, (_column, ylabel) in zip(axes, panels, strict=True):
            _finish(ax, "pairs N", ylabel, part["pairs"].unique())
        out.append(PlotFigure("vs_pairs", label, key, fig, notes=flag_notes(part)))
    return out


def _latency_tests(agg: Aggregates) -> pd.DataFrame:
    s = agg.summary
    return s[(s["dimension"] == "latency") & (s["status"] == "ok") & s["rtt_mean_us"].notna()]


RTT_KEYS = ["dimension", "hosts", "lab", "rate", "burst"]


def rtt_vs_pkt(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """Figs. 5.9-5.11: mean round-trip time against packet size, with the p50..p99 band."""
    data = _latency_tests(agg)
    out = []
    for key, part in fixed_groups(data, RTT_KEYS, varying_variants(data, RTT_KEYS)):
        label = tuple_label(key)
        fig, (ax,) = new_figure(1, label, _TITLES["rtt_vs_pkt"])
        for name, rows in series(part, "pkt_size"):
            curve = xy(rows, "pkt_size", "rtt_mean_us")
            (line,) = ax.plot(curve.index, curve.to_numpy(), label=f"{name} mean", **LINE_STYLE)
            band = rows.dropna(subset=["rtt_p50_us", "rtt_p99_us"])
            if not band.empty:
                low = xy(band, "pkt_size", "rtt_p50_us")
                high = xy(band, "pkt_size", "rtt_p99_us")
                ax.fill_between(low.index, low.to_numpy(), high.to_numpy(),
                                color=line.get_color(), alpha=0.2, label=f"{name} p50..p99")
                # A band of one packet size has no width: the bars keep it visible.
                ax.vlines(low.index, low.to_numpy(), high.to_numpy(), color=line.get_color(),
                          alpha=0.5, linewidth=3)
        _mark(ax, part, "pkt_size", "rtt_mean_us")
        _finish(ax, "packet size P (bytes)", "round-trip time (us)", part["pkt_size"].unique(),
                log_x=True)
        out.append(PlotFigure("rtt_vs_pkt", label, key, fig, notes=flag_notes(part)))
    return out


def _pkt_panel(ax: Axes, part: pd.DataFrame, column: str, ylabel: str) -> None:
    """`column` against packet size, one line per series; those without it stay unlisted."""
    for name, rows in series(part, "pkt_size"):
        curve = xy(rows, "pkt_size", column)
        # Drawn even when empty, so that a switch keeps its colour in every panel.
        ax.plot(curve.index, curve.to_numpy(), label=name if len(curve) else "_nolegend_",
                **LINE_STYLE)
    _mark(ax, part, "pkt_size", column)
    _finish(ax, "packet size P (bytes)", ylabel, part["pkt_size"].unique(), log_x=True)


def rtt_pct_vs_pkt(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """RTT percentiles p50, p99, p99.9 against packet size, one line per switch.

    The thesis draws the mean only (figs. 5.9-5.11); the tail is where switches that poll
    and switches that sleep differ most, so it gets panels of its own, laid out like figs.
    5.2/5.3. Thesis logs have no histogram: they appear in rtt_vs_pkt only.
    """
    data = _latency_tests(agg)
    data = data[data["rtt_p50_us"].notna()]
    out = []
    for key, part in fixed_groups(data, RTT_KEYS, varying_variants(data, RTT_KEYS)):
        label = tuple_label(key)
        fig, axes = new_figure(len(RTT_PERCENTILES), label, _TITLES["rtt_pct_vs_pkt"])
        for ax, (column, name_p) in zip(axes, RTT_PERCENTILES, strict=True):
            _pkt_panel(ax, part, column, f"{name_p} round-trip time (us)")
        out.append(PlotFigure("rtt_pct_vs_pkt", label, key, fig, notes=flag_notes(part)))
    return out


CYCLE_PANELS = (("cycles_per_pkt", "all work on the test's cores"),
                ("cycles_per_pkt_applets", "the applets"),
                ("cycles_per_pkt_switch", "the switch process"),
                ("cycles_per_pkt_softirq", "the kernel's softirq"))


def cycles_vs_pkt(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """CPU cycles per received packet against packet size, one line per switch.

    Drawn for the test of each configuration that reached the highest M (max_vs_pkt's
    points): at lower rates busy pollers spend the same cycles on fewer packets.
    """
    s = agg.summary
    data = s[s["is_max"] & s["cycles_per_pkt"].notna()] if "cycles_per_pkt" in s else s.iloc[:0]
    keys = ["dimension", "hosts", "lab", "burst"]
    out = []
    for key, part in fixed_groups(data, keys, varying_variants(data, keys)):
        label = tuple_label(key)
        fig, axes = new_figure(len(CYCLE_PANELS), label, _TITLES["cycles_vs_pkt"])
        for ax, (column, what) in zip(axes, CYCLE_PANELS, strict=True):
            if part[column].isna().all():
                # A kernel switch has no process of its own: its work is the softirq's.
                ax.text(0.5, 0.5, "not measured for these switches", ha="center",
                        transform=ax.transAxes)
            _pkt_panel(ax, part, column, f"cycles per packet: {what}")
        plot = PlotFigure("cycles_vs_pkt", label, key, fig, notes=flag_notes(part))
        plot.notes.append("cycles = CPU seconds in the steady window x the cores' clock "
                          "(/proc/cpuinfo MHz) / packets received (T x window)")
        out.append(plot)
    return out


BUILDERS: dict[str, Callable[[Aggregates, float], list[PlotFigure]]] = {
    "rx_vs_tx": rx_vs_tx,
    "max_vs_pkt": max_vs_pkt,
    "vs_pairs": vs_pairs,
    "rtt_vs_pkt": rtt_vs_pkt,
    "rtt_pct_vs_pkt": rtt_pct_vs_pkt,
    "cycles_vs_pkt": cycles_vs_pkt,
}
_NO_DATA = {
    "rx_vs_tx": "no successful throughput test with a receiving rate",
    "max_vs_pkt": "no successful throughput test with a receiving rate",
    "vs_pairs": "no successful throughput test with a receiving rate",
    "rtt_vs_pkt": "no successful latency test with a round-trip time",
    "rtt_pct_vs_pkt": "no successful latency test with an RTT histogram",
    "cycles_vs_pkt": "no test with the highest M of its configuration has a CPU record",
}


def build_all(agg: Aggregates, line_bps: float = units.TEN_GBE_BPS) -> FigureSet:
    """Every figure type the data supports; types without data are listed as skipped."""
    result = FigureSet(line_bps=line_bps)
    for figure_type in FIGURE_TYPES:
        made = BUILDERS[figure_type.kind](agg, line_bps)
        if made:
            result.figures.extend(made)
        else:
            result.skipped[figure_type.kind] = _NO_DATA[figure_type.kind]
    return result

