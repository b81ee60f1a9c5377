"""A test is identified by all its parameters: trees of either layout, nothing merged."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.axes import Axes

from icperf_analysis.figures import FigureSet
from icperf_analysis.load import load_results
from icperf_analysis.plots import build_all

from analysis_trees import analyse, throughput_test

OVS_64 = {"vswitch": "ovs", "pkt_size": 64, "rate": 1_000_000, "burst": 32}


def _lines(ax: Axes) -> dict[str, tuple[list[float], list[float]]]:
    return {line.get_label(): (list(map(float, line.get_xdata())),
                               list(map(float, line.get_ydata()))) for line in ax.get_lines()}


def _kind(figures: FigureSet, kind: str) -> dict[str, Axes]:
    """The first panel of every figure of one kind, by label."""
    return {f.label: f.figure.axes[0] for f in figures.figures if f.kind == kind}


def test_new_and_old_layouts_are_read_alike(tmp_path: Path) -> None:
    # New: <lab>/[<variant>/]<burst>/<vswitch>/<pkt>/<rate>; old: [<S>vs<S>/][c<N>/]<burst>/...
    folders = {
        "1vs1/32/linux-bridge/64/1000000": {"vswitch": "linux-bridge", "switch_cores": 0},
        "1vs1/c1-raw-blocking-consume-multi-debug-d10/32/ovs/64/1000000": {
            "vswitch": "ovs", "raw": True, "blocking": True, "consume": True, "multi": True,
            "debug": True, "duration": 10},
        "1vs1/c2-latency/32/ovs/64/1000000": {"vswitch": "ovs", "switch_cores": 2},
        "2vs2/c1/32/ovs/64/1000000": {"vswitch": "ovs"},  # old layout, several labs
        "32/basicfwd/1500/1000000": {"vswitch": "basicfwd", "pkt_size": 1500},  # old, one lab
    }
    for folder, overrides in folders.items():
        throughput_test(tmp_path, [500_000.0], folder=folder, **overrides)
    dataset = load_results(tmp_path)
    assert sorted(dataset.tests["path"]) == sorted(folders)
    assert set(dataset.tests["source"]) == {"icperf"}
    assert dataset.ignored == []
    tests = dataset.tests.set_index("path")
    variant = tests.loc["1vs1/c1-raw-blocking-consume-multi-debug-d10/32/ovs/64/1000000"]
    assert variant[["raw", "blocking", "consume", "multi", "debug"]].tolist() == [True] * 5
    assert variant["duration"] == 10
    assert tests.loc["1vs1/c2-latency/32/ovs/64/1000000", "switch_cores"] == 2


def test_same_point_with_other_flags_or_duration_is_another_test(tmp_path: Path) -> None:
    # Same (vswitch, pkt, rate, burst, lab): only the flags or the duration differ.
    throughput_test(tmp_path, [900_000.0], folder="1vs1/c1/32/ovs/64/1000000", **OVS_64)
    throughput_test(tmp_path, [300_000.0], folder="1vs1/c1-d10/32/ovs/64/1000000",
                    duration=10, **OVS_64)
    throughput_test(tmp_path, [500_000.0], folder="1vs1/c1-debug/32/ovs/64/1000000",
                    debug=True, **OVS_64)
    throughput_test(tmp_path, [700_000.0], folder="1vs1/c1-raw/32/ovs/64/1000000",
                    raw=True, **OVS_64)
    agg = analyse(tmp_path)[1]
    assert len(agg.summary) == 4
    assert sorted(agg.maxima["m_pps"]) == pytest.approx([300_000, 500_000, 700_000, 900_000])
    assert agg.summary["is_max"].all()  # each test is the best of its own configuration

    figures = build_all(agg)
    rx_vs_tx = _kind(figures, "rx_vs_tx")
    assert sorted(rx_vs_tx) == [
        "(D = throughput, L = local, S = 1vs1, P = 64, B = 32, duration = 10, raw = False, "
        "debug = False)",
        "(D = throughput, L = local, S = 1vs1, P = 64, B = 32, duration = 12, raw = False, "
        "debug = False)",
        "(D = throughput, L = local, S = 1vs1, P = 64, B = 32, duration = 12, raw = False, "
        "debug = True)",
        "(D = throughput, L = local, S = 1vs1, P = 64, B = 32, duration = 12, raw = True, "
        "debug = False)",
    ]
    drawn = sorted(y for ax in rx_vs_tx.values() for y in _lines(ax)["ovs"][1])
    assert drawn == pytest.approx([0.3, 0.5, 0.7, 0.9])  # four points, none averaged
    best = sorted(y for ax in _kind(figures, "max_vs_pkt").values() for y in _lines(ax)["ovs"][1])
    assert best == pytest.approx([0.3, 0.5, 0.7, 0.9])


def test_lab_of_the_same_name_but_other_content_is_another_test(tmp_path: Path) -> None:
    throughput_test(tmp_path / "a", [900_000.0], lab_sha256="a" * 64, **OVS_64)
    throughput_test(tmp_path / "b", [400_000.0], lab_sha256="b" * 64, **OVS_64)
    agg = analyse(tmp_path)[1]
    assert sorted(agg.maxima["m_pps"]) == pytest.approx([400_000, 900_000])
    assert sorted(agg.summary["lab_sha256"]) == ["a" * 64, "b" * 64]
    labels = sorted(_kind(build_all(agg), "rx_vs_tx"))
    assert labels == [
        "(D = throughput, L = local, S = 1vs1, P = 64, B = 32, lab_sha256 = aaaaaaaaaaaa)",
        "(D = throughput, L = local, S = 1vs1, P = 64, B = 32, lab_sha256 = bbbbbbbbbbbb)",
    ]


def test_two_labs_with_as_many_pairs_are_not_averaged(tmp_path: Path) -> None:
    throughput_test(tmp_path, [900_000.0], lab="1vs1", lab_sha256="1" * 64, **OVS_64)
    throughput_test(tmp_path, [500_000.0, 500_000.0], lab="2vs2", lab_sha256="2" * 64, **OVS_64)
    throughput_test(tmp_path, [300_000.0, 300_000.0], lab="2vs2-split", lab_sha256="3" * 64,
                    **OVS_64)
    plots = [f for f in build_all(analyse(tmp_path)[1]).figures if f.kind == "vs_pairs"]
    assert [p.label for p in plots] == ["(D = throughput, L = local, P = 64, B = 32)"]
    per_app = _lines(plots[0].figure.axes[0])
    assert per_app["ovs, S = 1vs1"] == ([1.0], pytest.approx([0.9]))
    assert per_app["ovs, S = 2vs2"] == ([2.0], pytest.approx([0.5]))
    assert per_app["ovs, S = 2vs2-split"] == ([2.0], pytest.approx([0.3]))


def test_switches_are_compared_whatever_cores_they_poll_on(tmp_path: Path) -> None:
    # linux-bridge polls no core (switch_cores 0), the DPDK switches one or two: they belong
    # in the same figures as series, and ovs on 1 and on 2 cores are two series.
    for vswitch, cores, rx in [("linux-bridge", 0, 300_000.0), ("basicfwd", 1, 900_000.0),
                               ("ovs", 1, 700_000.0), ("ovs", 2, 800_000.0)]:
        throughput_test(tmp_path, [rx], folder=f"1vs1/c{cores}/32/{vswitch}/64/1000000",
                        vswitch=vswitch, switch_cores=cores)
    agg = analyse(tmp_path)[1]
    assert len(agg.maxima) == 4
    figures = build_all(agg)
    for kind in ("rx_vs_tx", "max_vs_pkt"):
        panels = _kind(figures, kind)
        assert list(panels) == ["(D = throughput, L = local, S = 1vs1, B = 32)"
                                if kind == "max_vs_pkt" else
                                "(D = throughput, L = local, S = 1vs1, P = 64, B = 32)"]
        lines = _lines(next(iter(panels.values())))
        assert lines["linux-bridge"][1] == pytest.approx([0.3])
        assert lines["basicfwd"][1] == pytest.approx([0.9])
        assert lines["ovs (1 switch core)"][1] == pytest.approx([0.7])
        assert lines["ovs (2 switch cores)"][1] == pytest.approx([0.8])


def test_older_records_mean_the_defaults(tmp_path: Path) -> None:
    # A test.json written before `debug` (and switch_cores) were recorded means them off/0,
    # as the playbooks read it: with a newer record of the same test it is one configuration.
    old = {k: v for k, v in OVS_64.items() if k != "rate"}
    throughput_test(tmp_path / "old", [800_000.0], rate=1_000_000, **old)
    params_file = next((tmp_path / "old").rglob("test.json"))
    params_file.write_text(params_file.read_text().replace('"switch_cores": 1', '"x": 0'))
    throughput_test(tmp_path / "new", [900_000.0], rate=2_000_000, debug=False, switch_cores=0,
                    **old)
    agg = analyse(tmp_path)[1]
    assert agg.summary["debug"].tolist() == [False, False]
    assert agg.summary["switch_cores"].tolist() == [0, 0]
    assert len(agg.maxima) == 1
    assert agg.maxima.loc[0, "at_rate"] == 2_000_000
    plots = [f for f in build_all(agg).figures if f.kind == "rx_vs_tx"]
    assert [p.label for p in plots] == ["(D = throughput, L = local, S = 1vs1, P = 64, B = 32)"]
    assert _lines(plots[0].figure.axes[0])["ovs"][1] == pytest.approx([0.8, 0.9])


def test_an_xdp_run_is_another_test(tmp_path: Path) -> None:
    bridge = {"vswitch": "linux-bridge", "pkt_size": 64, "rate": 1_000_000, "burst": 32}
    throughput_test(tmp_path, [200_000.0], folder="1vs1/32/linux-bridge/64/1000000", **bridge)
    throughput_test(tmp_path, [600_000.0], folder="1vs1/xdp/32/linux-bridge/64/1000000",
                    xdp=True, **bridge)
    # Written before the flag existed: no xdp key, read as off.
    throughput_test(tmp_path / "old", [100_000.0], folder="32/linux-bridge/64/2000000",
                    **{**bridge, "rate": 2_000_000})
    agg = analyse(tmp_path)[1]
    assert len(agg.summary) == 3
    assert sorted(agg.maxima["m_pps"]) == pytest.approx([200_000, 600_000])
    assert sorted(agg.summary["xdp"].tolist()) == [False, False, True]
