"""The thesis' figure types (chapter 5), one figure per group of fixed parameters."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.axes import Axes

from . import units
from .aggregate import Aggregates
from .figures import (
    FIGURE_TYPES,
    FigureSet,
    PlotFigure,
    fixed_groups,
    new_figure,
    series,
    tuple_label,
    varying_variants,
    xy,
)

LINE_STYLE = {"marker": "o", "markersize": 4, "linewidth": 1.2}
REFERENCE_STYLE = {"color": "0.35", "linestyle": "--", "linewidth": 1.0}
_TITLES = {t.kind: t.title for t in FIGURE_TYPES}


def _line_rate_label(line_bps: float, share: int = 1) -> str:
    base = f"{line_bps / 1e9:g} GbE line rate"
    return base if share == 1 else f"{base} / {share}"


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
    ax.legend(fontsize=8)


def rx_vs_tx(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """Fig. 5.1: mean receiving rate M against the requested sending rate R, per vswitch."""
    s = agg.summary
    data = s[(s["dimension"] == "throughput") & (s["status"] == "ok") & s["m_mpps"].notna()]
    keys = ["dimension", "hosts", "lab", "pkt_size", "burst"]
    out = []
    for key, part in fixed_groups(data, keys, varying_variants(s)):
        label = tuple_label(key)
        fig, (ax,) = new_figure(1, label, _TITLES["rx_vs_tx"])
        for name, rows in series(part):
            curve = xy(rows.assign(rate_mpps=rows["rate"] / 1e6), "rate_mpps", "m_mpps")
            ax.plot(curve.index, curve.to_numpy(), label=name, **LINE_STYLE)
        top = float(part["rate"].max()) / 1e6
        ax.plot([0, top], [0, top], label="M = R (no loss)", **REFERENCE_STYLE)
        _finish(ax, "sending rate R per sender (Mpps)", "receiving rate M (Mpps)")
        out.append(PlotFigure("rx_vs_tx", label, key, fig))
    return out


def max_vs_pkt(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """Figs. 5.2-5.5: best M over the swept rates against packet size, in Mpps and Gbps."""
    data = agg.maxima
    keys = ["dimension", "hosts", "lab", "burst"]
    out = []
    for key, part in fixed_groups(data, keys, varying_variants(agg.summary)):
        label = tuple_label(key)
        fig, axes = new_figure(3, label, _TITLES["max_vs_pkt"])
        panels = (("m_mpps", "M (Mpps)"), ("m_gbps_l2", "M (Gbps, L2: frame bytes)"),
                  ("m_gbps_l1", "M (Gbps, L1: + FCS, preamble, IFG)"))
        for ax, (column, _ylabel) in zip(axes, panels, strict=True):
            for name, rows in series(part):
                curve = xy(rows, "pkt_size", column)
                ax.plot(curve.index, curve.to_numpy(), label=name, **LINE_STYLE)
        if key["hosts"] == "remote":
            pairs = int(part["pairs"].iloc[0])
            sizes = np.array(sorted(part["pkt_size"].unique()), dtype=float)
            ref = _line_rate_label(line_bps, pairs)
            axes[0].plot(sizes, units.mpps(units.line_rate_pps(sizes, line_bps)) / pairs,
                         label=ref, **REFERENCE_STYLE)
            axes[2].axhline(line_bps / 1e9 / pairs, label=ref, **REFERENCE_STYLE)
        for ax, (_column, ylabel) in zip(axes, panels, strict=True):
            _finish(ax, "packet size P (bytes)", ylabel, part["pkt_size"].unique(), log_x=True)
        out.append(PlotFigure("max_vs_pkt", label, key, fig))
    return out


def vs_pairs(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """Figs. 5.6-5.8: best per-app rate M and total T = M x N against the number of pairs N."""
    data = agg.maxima
    keys = ["dimension", "hosts", "pkt_size", "burst"]
    out = []
    for key, part in fixed_groups(data, keys, varying_variants(agg.summary)):
        label = tuple_label(key)
        fig, axes = new_figure(3, label, _TITLES["vs_pairs"])
        panels = (("m_mpps", "per-app M (Mpps)"), ("t_mpps", "total T (Mpps)"),
                  ("t_gbps_l1", "total T (Gbps, L1)"))
        for ax, (column, _ylabel) in zip(axes, panels, strict=True):
            for name, rows in series(part):
                curve = xy(rows, "pairs", column)
                ax.plot(curve.index, curve.to_numpy(), label=name, **LINE_STYLE)
        if key["hosts"] == "remote":
            ref = _line_rate_label(line_bps)
            pps = units.line_rate_pps(float(key["pkt_size"]), line_bps)
            axes[1].axhline(units.mpps(pps), label=ref, **REFERENCE_STYLE)
            axes[2].axhline(line_bps / 1e9, label=ref, **REFERENCE_STYLE)
        for ax, (_column, ylabel) in zip(axes, panels, strict=True):
            _finish(ax, "pairs N", ylabel, part["pairs"].unique())
        out.append(PlotFigure("vs_pairs", label, key, fig))
    return out


def rtt_vs_pkt(agg: Aggregates, line_bps: float) -> list[PlotFigure]:
    """Figs. 5.9-5.11: mean round-trip time against packet size, with the p50..p99 band."""
    s = agg.summary
    data = s[(s["dimension"] == "latency") & (s["status"] == "ok") & s["rtt_mean_us"].notna()]
    keys = ["dimension", "hosts", "lab", "rate", "burst"]
    out = []
    for key, part in fixed_groups(data, keys, varying_variants(s)):
        label = tuple_label(key)
        fig, (ax,) = new_figure(1, label, _TITLES["rtt_vs_pkt"])
        for name, rows in series(part):
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
        _finish(ax, "packet size P (bytes)", "round-trip time (us)", part["pkt_size"].unique(),
                log_x=True)
        out.append(PlotFigure("rtt_vs_pkt", label, key, fig))
    return out


BUILDERS: dict[str, Callable[[Aggregates, float], list[PlotFigure]]] = {
    "rx_vs_tx": rx_vs_tx,
    "max_vs_pkt": max_vs_pkt,
    "vs_pairs": vs_pairs,
    "rtt_vs_pkt": rtt_vs_pkt,
}
_NO_DATA = {
    "rx_vs_tx": "no successful throughput test with a receiving rate",
    "max_vs_pkt": "no successful throughput test with a receiving rate",
    "vs_pairs": "no successful throughput test with a receiving rate",
    "rtt_vs_pkt": "no successful latency test with a round-trip time",
}


def build_all(agg: Aggregates, line_bps: float = units.TEN_GBE_BPS) -> FigureSet:
    """Every figure type the data supports; types without data are listed as skipped."""
    result = FigureSet()
    for figure_type in FIGURE_TYPES:
        made = BUILDERS[figure_type.kind](agg, line_bps)
        if made:
            result.figures.extend(made)
        else:
            result.skipped[figure_type.kind] = _NO_DATA[figure_type.kind]
    return result

