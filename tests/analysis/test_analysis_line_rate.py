from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from icperf_analysis import units
from icperf_analysis.aggregate import Window
from icperf_analysis.cli import main
from icperf_analysis.errors import InputError
from icperf_analysis.figures import FigureSet, PlotFigure
from icperf_analysis.line_rate import describe
from icperf_analysis.load import load_results
from icperf_analysis.plots import build_all
from icperf_analysis.report import render

from analysis_trees import analyse, throughput_test

GBE1 = 1_000_000_000
REMOTE_64 = "(D = throughput, L = remote, P = 64, B = 32)"


def _remote_sweep(root: Path, rates: dict[int, float | None]) -> Path:
    """Tests across hosts at 64 B for each number of pairs in `rates` (its line rate, None
    for a record without one), and 1vs1 at 1500 B too; plus a local test, which records no
    line rate."""
    for pairs, rate in rates.items():
        throughput_test(root, [600_000.0] * pairs, hosts="remote", vswitch="sriov",
                        line_rate_bps=rate)
    throughput_test(root, [80_000.0], hosts="remote", vswitch="sriov", pkt_size=1500,
                    line_rate_bps=rates[1])
    throughput_test(root, [900_000.0], vswitch="linux-bridge")
    return root


def _one(figures: FigureSet, kind: str, label: str) -> PlotFigure:
    found = [f for f in figures.figures if f.kind == kind and f.label == label]
    assert len(found) == 1, [f.label for f in figures.figures if f.kind == kind]
    return found[0]


def _references(ax: Axes) -> dict[str, list[float]]:
    """The y-values of the line-rate references of a panel, by legend label."""
    return {line.get_label(): list(map(float, line.get_ydata())) for line in ax.get_lines()
            if "line rate" in line.get_label()}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _remote_sweep(tmp_path_factory.mktemp("recorded"), {1: GBE1, 2: GBE1})


@pytest.fixture(scope="module")
def recorded_figures(recorded: Path) -> FigureSet:
    # --line-rate-gbps stays at 10: the recorded 1 Gbps must win over it.
    return build_all(analyse(recorded)[1], units.TEN_GBE_BPS)


def test_loaded_column_is_the_recorded_rate_or_nan(tmp_path: Path) -> None:
    throughput_test(tmp_path, [1.0], hosts="remote", line_rate_bps=GBE1)
    throughput_test(tmp_path, [1.0], hosts="remote", pkt_size=1500)  # an older record
    throughput_test(tmp_path, [1.0], pkt_size=128)  # local
    null = throughput_test(tmp_path, [1.0], hosts="remote", pkt_size=256)
    doc = json.loads((null / "test.json").read_text())
    (null / "test.json").write_text(json.dumps(doc | {"line_rate_bps": None}))
    tests = load_results(tmp_path).tests.set_index("pkt_size")
    assert tests["line_rate_bps"].dtype == np.float64
    assert tests.loc[64, "line_rate_bps"] == 1e9
    assert tests.loc[[128, 256, 1500], "line_rate_bps"].isna().all()


def test_loaded_column_of_thesis_logs_is_nan(thesis_tree: Path) -> None:
    tests = load_results(thesis_tree).tests
    assert tests["line_rate_bps"].dtype == np.float64
    assert tests["line_rate_bps"].isna().all()


@pytest.mark.parametrize("value", ["1G", 0, -1e9, True])
def test_a_line_rate_that_is_no_rate_is_refused(tmp_path: Path, value: object) -> None:
    folder = throughput_test(tmp_path, [1.0], hosts="remote")
    doc = json.loads((folder / "test.json").read_text())
    (folder / "test.json").write_text(json.dumps(doc | {"line_rate_bps": value}))
    with pytest.raises(InputError, match="line_rate_bps"):
        load_results(tmp_path)


def test_summary_and_maxima_keep_the_line_rate(recorded: Path) -> None:
    _dataset, agg = analyse(recorded)
    by_hosts = agg.summary.groupby("hosts")["line_rate_bps"]
    assert by_hosts.unique()["remote"].tolist() == [1e9]
    assert by_hosts.count()["local"] == 0
    remote = agg.maxima[agg.maxima["hosts"] == "remote"]
    assert remote["line_rate_bps"].tolist() == [1e9] * 3


def test_vs_pairs_draws_the_recorded_line_rate(recorded_figures: FigureSet) -> None:
    _m, total, total_gbps = _one(recorded_figures, "vs_pairs", REMOTE_64).figure.axes
    label = "1 GbE line rate (recorded)"
    assert _references(total_gbps) == {label: [1.0, 1.0]}
    # 64 B frames + 24 B of FCS, preamble and gap: 1 Gbps / 704 bit.
    assert _references(total) == {label: pytest.approx([1e9 / 704 / 1e6] * 2)}


def test_max_vs_pkt_draws_the_recorded_line_rate(recorded_figures: FigureSet) -> None:
    one = _one(recorded_figures, "max_vs_pkt", "(D = throughput, L = remote, S = 1vs1, B = 32)")
    mpps, _l2, gbps_l1 = one.figure.axes
    per_size = units.line_rate_pps(np.array([64.0, 1500.0]), 1e9) / 1e6
    assert _references(mpps) == {"1 GbE line rate (recorded)": pytest.approx(list(per_size))}
    assert _references(gbps_l1) == {"1 GbE line rate (recorded)": [1.0, 1.0]}
    two = _one(recorded_figures, "max_vs_pkt", "(D = throughput, L = remote, S = 2vs2, B = 32)")
    mpps, _l2, gbps_l1 = two.figure.axes
    assert _references(mpps) == {"1 GbE line rate / 2 (recorded)":
                                 pytest.approx([1e9 / 704 / 1e6 / 2])}
    assert _references(gbps_l1) == {"1 GbE line rate / 2 (recorded)": [0.5, 0.5]}


def test_local_figures_draw_no_line_rate(recorded_figures: FigureSet) -> None:
    local = [f for f in recorded_figures.figures if f.key.get("hosts") == "local"]
    assert local
    assert not any(_references(ax) for f in local for ax in f.figure.axes)


def test_records_without_a_line_rate_use_the_option(tmp_path: Path) -> None:
    _remote_sweep(tmp_path, {1: None, 2: None})
    figures = build_all(analyse(tmp_path)[1], 25e9)
    _m, total, total_gbps = _one(figures, "vs_pairs", REMOTE_64).figure.axes
    label = "25 GbE line rate (--line-rate-gbps)"
    assert _references(total_gbps) == {label: [25.0, 25.0]}
    assert _references(total) == {label: pytest.approx([25e9 / 704 / 1e6] * 2)}


def test_different_recorded_rates_draw_one_reference_each(tmp_path: Path) -> None:
    _remote_sweep(tmp_path, {1: GBE1, 2: 10 * GBE1, 3: None})
    figures = build_all(analyse(tmp_path)[1], 40e9)
    _m, total, total_gbps = _one(figures, "vs_pairs", REMOTE_64).figure.axes
    assert _references(total_gbps) == {"1 GbE line rate (recorded)": [1.0, 1.0],
                                       "10 GbE line rate (recorded)": [10.0, 10.0],
                                       "40 GbE line rate (--line-rate-gbps)": [40.0, 40.0]}
    assert _references(total) == {
        "1 GbE line rate (recorded)": pytest.approx([1e9 / 704 / 1e6] * 2),
        "10 GbE line rate (recorded)": pytest.approx([10e9 / 704 / 1e6] * 2),
        "40 GbE line rate (--line-rate-gbps)": pytest.approx([40e9 / 704 / 1e6] * 2)}
    styles = {line.get_linestyle() for line in total_gbps.get_lines()
              if "line rate" in line.get_label()}
    assert len(styles) == 3  # told apart without colour


def test_a_recorded_rate_equal_to_the_option_is_one_reference(tmp_path: Path) -> None:
    _remote_sweep(tmp_path, {1: GBE1, 2: None})
    figures = build_all(analyse(tmp_path)[1], 1e9)
    _m, _t, total_gbps = _one(figures, "vs_pairs", REMOTE_64).figure.axes
    assert _references(total_gbps) == {
        "1 GbE line rate (recorded, --line-rate-gbps)": [1.0, 1.0]}


def test_report_names_the_recorded_line_rate(recorded: Path, recorded_figures: FigureSet
                                             ) -> None:
    dataset, agg = analyse(recorded)
    text = render(dataset, agg, recorded_figures, Window())
    assert ("<p>Line rate drawn in the figures of tests across hosts (L = remote): "
            "1 GbE, recorded in test.json (3 configurations).</p>") in text
    assert "--line-rate-gbps" not in text


def test_report_names_both_sources_when_some_records_lack_the_rate() -> None:
    maxima = pd.DataFrame({"hosts": ["remote", "remote", "remote", "local"],
                           "line_rate_bps": [1e9, 1e9, np.nan, np.nan]})
    assert describe(maxima, 10e9) == (
        "<p>Line rate drawn in the figures of tests across hosts (L = remote): "
        "1 GbE, recorded in test.json (2 configurations); "
        "10 GbE, from --line-rate-gbps (1 configuration without a recorded rate).</p>")
    assert describe(maxima[maxima["hosts"] == "local"], 10e9) == ""


def test_cli_report_names_the_option_for_older_records(tmp_path: Path) -> None:
    _remote_sweep(tmp_path / "results", {1: None})
    out = tmp_path / "report"
    assert main([str(tmp_path / "results"), "--out", str(out), "--line-rate-gbps", "2.5"]) == 0
    text = (out / "report.html").read_text()
    assert ("2.5 GbE, from --line-rate-gbps (2 configurations without a recorded rate)"
            in text)
    summary = pd.read_csv(out / "summary.csv")
    assert summary["line_rate_bps"].isna().all()


def test_cli_report_and_tables_carry_the_recorded_rate(tmp_path: Path, recorded: Path) -> None:
    shutil.copytree(recorded, tmp_path / "results")
    out = tmp_path / "report"
    assert main([str(tmp_path / "results"), "--out", str(out), "--no-figures"]) == 0
    maxima = pd.read_csv(out / "max_throughput.csv")
    assert maxima.loc[maxima["hosts"] == "remote", "line_rate_bps"].tolist() == [1e9] * 3
    # Without figures no line rate was drawn, and the report claims none.
    assert "Line rate drawn" not in (out / "report.html").read_text()
