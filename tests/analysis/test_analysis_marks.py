"""What the report says about how a test ran: achieved rates, shared cores, poller settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes

from icperf_analysis.cli import main
from icperf_analysis.errors import InputError
from icperf_analysis.figures import FigureSet, PlotFigure
from icperf_analysis.load import load_results
from icperf_analysis.plots import SHARED_LABEL, SHORT_LABEL, build_all

from analysis_trees import analyse, latency_test, throughput_test

SHORT_1M = "1vs1/32/linux-bridge/64/1000000"  # the default run's 64 B test
FULL_100K = "1vs1/32/linux-bridge/64/100000"
SHARED = "1vs1/c1/32/basicfwd/64/1000000"
OWN_CORES = "1vs1/c1/32/ovs/64/1000000"


def _lines(ax: Axes) -> dict[str, tuple[list[float], list[float]]]:
    return {line.get_label(): (list(map(float, line.get_xdata())),
                               list(map(float, line.get_ydata()))) for line in ax.get_lines()}


def _one(figures: FigureSet, kind: str) -> PlotFigure:
    found = [f for f in figures.figures if f.kind == kind]
    assert len(found) == 1, [f.label for f in found]
    return found[0]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    # 1 Mpps requested, 87 008 pps sent (the pacer could not go faster), every packet received.
    throughput_test(root, [87_008.0], sent=87_008.0, rate=1_000_000, folder=SHORT_1M)
    # 0.5 % short of the requested rate: within the 1 % tolerance.
    throughput_test(root, [99_500.0], sent=99_500.0, rate=100_000, folder=FULL_100K)
    throughput_test(root, [400_000.0], vswitch="basicfwd", folder=SHARED, shared_cores=True,
                    settings={"ring": 16384})
    throughput_test(root, [900_000.0], vswitch="ovs", folder=OWN_CORES, shared_cores=False,
                    settings={"ring": 1024})
    return root


def test_summary_has_achieved_rate_and_shortfall(tree: Path) -> None:
    s = analyse(tree)[1].summary.set_index("path")
    short = s.loc[SHORT_1M]
    assert short["sent_per_sender_pps"] == pytest.approx(87_008)
    assert short["rate_shortfall"] == pytest.approx(1 - 87_008 / 1_000_000)
    assert short["sender_short"]
    assert short["loss_ratio"] == 0.0  # nothing was lost: the sender fell short
    assert s.loc[FULL_100K, "rate_shortfall"] == pytest.approx(0.005)
    assert not s.loc[FULL_100K, "sender_short"]
    assert not s.loc[SHARED, "sender_short"]


def test_shortfall_counts_the_slowest_sender(tmp_path: Path) -> None:
    # Two pairs; throughput_test gives every sender the same rate, so halve one by hand.
    folder = throughput_test(tmp_path, [500_000.0, 500_000.0], sent=1_000_000.0)
    log = folder / "icp2.send.jsonl"
    log.write_text(log.read_text().replace('"sent": 1000000.0', '"sent": 500000.0'))
    row = analyse(tmp_path)[1].summary.iloc[0]
    assert row["sent_per_sender_pps"] == pytest.approx(750_000)
    assert row["rate_shortfall"] == pytest.approx(0.5)
    assert row["sender_short"]


def test_receive_vs_send_is_drawn_at_the_achieved_rate(tree: Path) -> None:
    plot = _one(build_all(analyse(tree)[1]), "rx_vs_tx")
    (ax,) = plot.figure.axes
    assert ax.get_xlabel() == "achieved sending rate per sender (Mpps)"
    lines = _lines(ax)
    assert lines["linux-bridge"] == (pytest.approx([0.087008, 0.0995]),
                                     pytest.approx([0.087008, 0.0995]))
    # The requested rates as a reference, at the same receiving rates.
    assert lines["linux-bridge: requested R"] == (pytest.approx([0.1, 1.0]),
                                                  pytest.approx([0.0995, 0.087008]))
    assert lines[SHORT_LABEL] == ([pytest.approx(0.087008)], [pytest.approx(0.087008)])
    assert lines["M = sent (no loss)"][1][-1] >= 1.0  # the diagonal reaches the requested 1M
    assert any(SHORT_1M in note and "short" in note for note in plot.notes)


def test_shared_cores_are_flagged_in_summary_and_figures(tree: Path) -> None:
    agg = analyse(tree)[1]
    s = agg.summary.set_index("path")
    assert s.loc[SHARED, "shared_cores"] is True
    assert s.loc[OWN_CORES, "shared_cores"] is False
    assert pd.isna(s.loc[SHORT_1M, "shared_cores"])  # an older test.json: not recorded
    maxima = agg.maxima.set_index("vswitch")
    assert maxima.loc["basicfwd", "shared_cores"] is True
    figures = build_all(agg)
    for kind in ("rx_vs_tx", "max_vs_pkt"):
        plot = _one(figures, kind)
        for ax in plot.figure.axes:
            marked = _lines(ax)[SHARED_LABEL]
            assert len(marked[0]) == 1  # the basicfwd test only
        assert any(SHARED in note and "share" in note for note in plot.notes)


def test_shared_cores_flag_latency_figures(tmp_path: Path) -> None:
    latency_test(tmp_path, [[10_000, 100]], 10_000, vswitch="basicfwd", shared_cores=True)
    latency_test(tmp_path, [[20_000, 100]], 20_000, vswitch="ovs", shared_cores=False)
    figures = build_all(analyse(tmp_path)[1])
    for kind in ("rtt_vs_pkt", "rtt_pct_vs_pkt"):
        plot = _one(figures, kind)
        for ax in plot.figure.axes:
            assert len(_lines(ax)[SHARED_LABEL][0]) == 1
        assert plot.notes


def test_settings_are_flattened_into_columns(tree: Path) -> None:
    s = analyse(tree)[1].summary.set_index("path")
    assert s.loc[SHARED, "setting_ring"] == 16384
    assert s.loc[OWN_CORES, "setting_ring"] == 1024
    assert pd.isna(s.loc[SHORT_1M, "setting_ring"])


def test_csv_and_report_carry_the_marks(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main([str(tree), "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("path")
    assert summary.loc[SHORT_1M, "sender_short"]
    assert summary.loc[SHORT_1M, "sent_per_sender_pps"] == pytest.approx(87_008)
    assert summary.loc[SHARED, "shared_cores"]
    assert summary.loc[SHARED, "setting_ring"] == 16384
    assert "16384.0" not in (out / "summary.csv").read_text()  # a count stays an integer
    maxima = pd.read_csv(out / "max_throughput.csv")
    assert "shared_cores" in maxima.columns and "sender_short" in maxima.columns
    text = (out / "report.html").read_text()
    for column in ("sent_per_sender_pps", "sender_short", "shared_cores", "setting_ring"):
        assert f"<th>{column}</th>" in text, column
    assert "16384" in text
    # Next to the figures that use them, and in the notes above the tables.
    assert f"shared cores: {SHARED}" in text
    assert f"sender short of R by more than 1 %: {SHORT_1M}" in text
    assert "measure the scheduler" in text


@pytest.mark.parametrize(("shared_cores", "settings", "message"), [
    ("yes", None, "apps[0].shared_cores is not a boolean"),
    (False, [16384], "key 'settings' is not an object"),
])
def test_ill_typed_shared_cores_or_settings_are_refused(
        tmp_path: Path, shared_cores: object, settings: object, message: str) -> None:
    folder = throughput_test(tmp_path, [1000.0], shared_cores=False, settings={})
    test_json = folder / "test.json"
    doc = json.loads(test_json.read_text())
    doc["apps"][0]["shared_cores"] = shared_cores
    doc["settings"] = settings
    test_json.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=re.escape(f"{test_json.resolve()}: {message}")):
        load_results(tmp_path)
