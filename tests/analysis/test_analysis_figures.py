from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes

from icperf_analysis import units
from icperf_analysis.aggregate import Aggregates
from icperf_analysis.figures import FigureSet, PlotFigure, save
from icperf_analysis.plots import build_all

from analysis_trees import analyse, latency_test, throughput_test

# These tests record no line rate: the reference is build_all's default, as --line-rate-gbps.
CLI_10GBE = "10 GbE line rate (--line-rate-gbps)"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    for vswitch, pkt, rate, rx in [("linux-bridge", 64, 1_000_000, 900_000),
                                   ("linux-bridge", 64, 2_000_000, 1_200_000),
                                   ("ovs", 64, 1_000_000, 1_000_000),
                                   ("ovs", 64, 2_000_000, 1_800_000),
                                   ("linux-bridge", 1500, 1_000_000, 800_000),
                                   ("ovs", 1500, 1_000_000, 820_000)]:
        throughput_test(root, [rx], vswitch=vswitch, pkt_size=pkt, rate=rate)
    throughput_test(root, [400_000, 500_000], vswitch="linux-bridge")
    throughput_test(root, [700_000, 900_000], vswitch="ovs")
    throughput_test(root, [950_000], vswitch="sriov", hosts="remote")
    throughput_test(root, [800_000], vswitch="sriov", hosts="remote", pkt_size=1500)
    throughput_test(root, [600_000, 600_000], vswitch="sriov", hosts="remote")
    latency_test(root, [[10_000, 50], [20_000, 50]], 15_000, vswitch="linux-bridge", burst=4)
    latency_test(root, [[30_000, 100]], 30_000, vswitch="linux-bridge", burst=4, pkt_size=1500)
    latency_test(root, [[5_000, 99], [9_000, 1]], 5_000, vswitch="ovs", burst=4)
    return root


@pytest.fixture(scope="module")
def figures(sweep: Path) -> FigureSet:
    return build_all(analyse(sweep)[1])


def _one(figures: FigureSet, kind: str, label: str) -> PlotFigure:
    found = [f for f in figures.figures if f.kind == kind and f.label == label]
    assert len(found) == 1, [f.label for f in figures.figures if f.kind == kind]
    return found[0]


def _lines(ax: Axes) -> dict[str, tuple[list[float], list[float]]]:
    return {line.get_label(): (list(map(float, line.get_xdata())),
                               list(map(float, line.get_ydata()))) for line in ax.get_lines()}


def test_one_figure_per_fixed_parameter_group(figures: FigureSet) -> None:
    labels = {(f.kind, f.label) for f in figures.figures}
    assert len(labels) == len(figures.figures)
    count = {k: sum(f.kind == k for f in figures.figures) for k in
             ("rx_vs_tx", "max_vs_pkt", "vs_pairs", "rtt_vs_pkt")}
    assert count == {"rx_vs_tx": 6, "max_vs_pkt": 4, "vs_pairs": 4, "rtt_vs_pkt": 1}
    # Only the CPU figure lacks data: these tests carry no CPU record.
    assert set(figures.skipped) == {"cycles_vs_pkt"}


def test_receive_vs_send_rate(figures: FigureSet) -> None:
    plot = _one(figures, "rx_vs_tx", "(D = throughput, L = local, S = 1vs1, P = 64, B = 32)")
    (ax,) = plot.figure.axes
    lines = _lines(ax)
    assert set(lines) == {"linux-bridge", "ovs", "linux-bridge: requested R", "ovs: requested R",
                          "M = sent (no loss)"}
    # Every sender reached its requested rate: the achieved x is the requested one.
    assert lines["linux-bridge"] == ([1.0, 2.0], pytest.approx([0.9, 1.2]))
    assert lines["ovs"] == ([1.0, 2.0], pytest.approx([1.0, 1.8]))
    assert lines["ovs: requested R"] == ([1.0, 2.0], pytest.approx([1.0, 1.8]))
    assert "(D = throughput, L = local, S = 1vs1, P = 64, B = 32)" in plot.figure.get_suptitle()


def test_max_throughput_vs_packet_size(figures: FigureSet) -> None:
    plot = _one(figures, "max_vs_pkt", "(D = throughput, L = local, S = 1vs1, B = 32)")
    mpps, gbps_l2, gbps_l1 = plot.figure.axes
    assert all(ax.get_xscale() == "log" for ax in plot.figure.axes)
    assert _lines(mpps)["linux-bridge"] == ([64.0, 1500.0], pytest.approx([1.2, 0.8]))
    assert _lines(mpps)["ovs"] == ([64.0, 1500.0], pytest.approx([1.8, 0.82]))
    assert _lines(gbps_l2)["linux-bridge"][1] == pytest.approx([1.2e6 * 64 * 8 / 1e9, 9.6])
    assert _lines(gbps_l1)["linux-bridge"][1] == pytest.approx([1.2e6 * 88 * 8 / 1e9, 9.7536])
    assert not any("line rate" in label for ax in plot.figure.axes for label in _lines(ax))


def test_line_rate_reference_only_across_hosts(figures: FigureSet) -> None:
    plot = _one(figures, "max_vs_pkt", "(D = throughput, L = remote, S = 1vs1, B = 32)")
    mpps, _l2, gbps_l1 = plot.figure.axes
    expected = units.line_rate_pps(np.array([64.0, 1500.0])) / 1e6
    assert _lines(mpps)[CLI_10GBE][1] == pytest.approx(list(expected))
    assert _lines(gbps_l1)[CLI_10GBE][1] == [10.0, 10.0]
    assert _lines(mpps)["sriov"][1] == pytest.approx([0.95, 0.8])


def test_per_app_and_total_vs_pairs(figures: FigureSet) -> None:
    plot = _one(figures, "vs_pairs", "(D = throughput, L = local, P = 64, B = 32)")
    per_app, total, total_gbps = plot.figure.axes
    assert _lines(per_app)["linux-bridge"] == ([1.0, 2.0], pytest.approx([1.2, 0.45]))
    assert _lines(total)["linux-bridge"] == ([1.0, 2.0], pytest.approx([1.2, 0.9]))
    assert _lines(total)["ovs"] == ([1.0, 2.0], pytest.approx([1.8, 1.6]))
    assert _lines(total_gbps)["ovs"][1] == pytest.approx([1.8e6 * 704 / 1e9, 1.6e6 * 704 / 1e9])
    assert not any("line rate" in label for label in _lines(total_gbps))

    remote = _one(figures, "vs_pairs", "(D = throughput, L = remote, P = 64, B = 32)")
    _m, total, total_gbps = remote.figure.axes
    assert _lines(total)["sriov"] == ([1.0, 2.0], pytest.approx([0.95, 1.2]))
    assert _lines(total_gbps)[CLI_10GBE][1] == [10.0, 10.0]
    assert _lines(total)[CLI_10GBE][1] == pytest.approx([10e9 / 704 / 1e6] * 2)


def test_rtt_vs_packet_size_with_percentile_bands(figures: FigureSet) -> None:
    plot = _one(figures, "rtt_vs_pkt", "(D = latency, L = local, S = 1vs1, R = 1000, B = 4)")
    (ax,) = plot.figure.axes
    lines = _lines(ax)
    assert lines["linux-bridge mean"] == ([64.0, 1500.0], pytest.approx([15.0, 30.0]))
    assert lines["ovs mean"] == ([64.0], pytest.approx([5.04]))
    bands = {c.get_label(): c for c in ax.collections if "p50..p99" in c.get_label()}
    assert set(bands) == {"linux-bridge p50..p99", "ovs p50..p99"}
    ys = bands["linux-bridge p50..p99"].get_paths()[0].vertices[:, 1]
    assert (ys.min(), ys.max()) == (10.0, 30.0)  # p50 10 us at 64 B, p99 30 us at 1500 B


def test_rtt_percentiles_compare_switches(tmp_path: Path) -> None:
    # The default sweep: linux-bridge, basicfwd and OVS-DPDK, 64 and 1500 B, latency tests.
    for vswitch, cores, base in [("linux-bridge", 0, 40_000), ("basicfwd", 1, 10_000),
                                 ("ovs", 1, 20_000)]:
        for pkt, extra in [(64, 0), (1500, 5_000)]:
            rtt = base + extra
            latency_test(tmp_path, [[rtt, 89], [2 * rtt, 10], [4 * rtt, 1]], rtt,
                         vswitch=vswitch, switch_cores=cores, pkt_size=pkt)
    result = build_all(analyse(tmp_path)[1])
    plots = [f for f in result.figures if f.kind == "rtt_pct_vs_pkt"]
    assert [p.label for p in plots] == ["(D = latency, L = local, S = 1vs1, R = 1000, B = 32)"]
    p50, p99, p999 = plots[0].figure.axes
    assert [ax.get_ylabel() for ax in (p50, p99, p999)] == [
        "p50 round-trip time (us)", "p99 round-trip time (us)", "p99.9 round-trip time (us)"]
    assert all(ax.get_xscale() == "log" for ax in (p50, p99, p999))
    assert _lines(p50)["linux-bridge"] == ([64.0, 1500.0], pytest.approx([40.0, 45.0]))
    assert _lines(p50)["basicfwd"] == ([64.0, 1500.0], pytest.approx([10.0, 15.0]))
    assert _lines(p99)["ovs"] == ([64.0, 1500.0], pytest.approx([40.0, 50.0]))
    assert _lines(p999)["ovs"] == ([64.0, 1500.0], pytest.approx([80.0, 100.0]))
    means = _lines(next(f for f in result.figures if f.kind == "rtt_vs_pkt").figure.axes[0])
    assert {"linux-bridge mean", "basicfwd mean", "ovs mean"} <= set(means)


def test_figure_types_without_data_are_skipped(tmp_path: Path) -> None:
    throughput_test(tmp_path, [1000.0])
    result = build_all(analyse(tmp_path)[1])
    assert set(result.skipped) == {"rtt_vs_pkt", "rtt_pct_vs_pkt", "cycles_vs_pkt"}
    assert {f.kind for f in result.figures} == {"rx_vs_tx", "max_vs_pkt", "vs_pairs"}


def test_variants_split_groups_and_are_labelled(tmp_path: Path) -> None:
    throughput_test(tmp_path / "a", [500_000.0], raw=False)
    throughput_test(tmp_path / "b", [700_000.0], raw=True)
    labels = sorted(f.label for f in build_all(analyse(tmp_path)[1]).figures
                    if f.kind == "rx_vs_tx")
    assert labels == ["(D = throughput, L = local, S = 1vs1, P = 64, B = 32, raw = False)",
                      "(D = throughput, L = local, S = 1vs1, P = 64, B = 32, raw = True)"]


def test_thesis_results_drawn_next_to_new_ones(tmp_path: Path, icperf_tree: Path,
                                               thesis_tree: Path) -> None:
    shutil.copytree(icperf_tree, tmp_path / "new")
    shutil.copytree(thesis_tree, tmp_path / "old")
    agg: Aggregates = analyse(tmp_path)[1]
    plot = _one(build_all(agg), "rx_vs_tx",
                "(D = throughput, L = local, S = 1vs1, P = 64, B = 32)")
    lines = _lines(plot.figure.axes[0])
    assert lines["linux-bridge"][1] == pytest.approx([0.9, 0.95])
    assert lines["linux-bridge (thesis)"][1] == pytest.approx([0.5, 0.6])


def test_saved_as_png_and_svg(figures: FigureSet, tmp_path: Path) -> None:
    first = {}
    for plot in figures.figures:
        first.setdefault(plot.kind, plot)
    same_key = dataclasses.replace(first["rx_vs_tx"])
    chosen = [*first.values(), same_key]
    save(chosen, tmp_path)
    assert same_key.name == first["rx_vs_tx"].name + "_2"
    assert len({plot.name for plot in chosen}) == len(chosen)
    for plot in chosen:
        png, svg = plot.files
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in svg.read_bytes()[:500]
