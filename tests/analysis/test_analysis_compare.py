"""`icperf-analyze compare A B --out DIR` on synthetic results trees and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from icperf_analysis.cli import main
from icperf_analysis.compare import EXIT_REGRESSION

from analysis_trees import latency_test, log_text, params, throughput_test, write_test

BUCKETS = [[20000, 900], [40000, 100]]


def _run(root: Path, rx: float = 900000.0, rtt_ns: int = 22000, extra: bool = False,
         trial: str = "") -> Path:
    throughput_test(root, [rx], rate=1000000, folder=f"{trial}tput-1M" if trial else None)
    throughput_test(root, [400000.0], rate=500000, folder=f"{trial}tput-500k" if trial else None)
    latency_test(root, [[rtt_ns, 900], [2 * rtt_ns, 100]], rtt_mean_ns=rtt_ns,
                 folder=f"{trial}lat" if trial else None)
    if extra:
        throughput_test(root, [100.0], rate=1000, pkt_size=1500)
    return root


def _compare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["compare", *args])
    return code, capsys.readouterr().err


def _verdicts(out: Path) -> dict[tuple[str, int], str]:
    table = pd.read_csv(out / "compare.csv")
    return {(row.metric, row.rate): row.verdict for row in table.itertuples()}


def test_identical_rerun_is_no_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    code, err = _compare(capsys, str(a), str(b), "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "(no change)" in err
    assert "spread from the per-second variation within each test" in err
    verdicts = _verdicts(tmp_path / "out")
    assert set(verdicts.values()) == {"no change"}
    assert ("m_pps", 1000000) in verdicts and ("rtt_p99_us", 1000) in verdicts
    for name in ("compare.csv", "compare.md", "compare.html", "only_in_one.csv",
                 "figures/compare_throughput_all.png", "figures/compare_rtt_all.png"):
        assert (tmp_path / "out" / name).is_file(), name


def test_slowed_run_is_a_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b", rx=600000.0, rtt_ns=30000)
    code, err = _compare(capsys, str(a), str(b), "--out", str(tmp_path / "out"))
    assert code == EXIT_REGRESSION == 3
    assert "regression: linux-bridge P=64 R=1000000 m_pps: 900000 -> 600000 (-33.33 %" in err
    verdicts = _verdicts(tmp_path / "out")
    assert verdicts[("m_pps", 1000000)] == "regression"
    assert verdicts[("loss_ratio", 1000000)] == "regression"  # 10 % -> 40 % lost
    assert verdicts[("rtt_p50_us", 1000)] == "regression"
    assert verdicts[("m_pps", 500000)] == "no change"
    assert "regression" in (tmp_path / "out" / "compare.md").read_text()


def test_faster_run_is_an_improvement_and_exits_0(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _run(tmp_path / "a", rx=600000.0), _run(tmp_path / "b")
    code, _err = _compare(capsys, str(a), str(b), "--out", str(tmp_path / "out"))
    assert code == 0
    assert _verdicts(tmp_path / "out")[("m_pps", 1000000)] == "improvement"


def test_threshold_decides_small_changes(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b", rx=873000.0)  # 3 % slower
    out = str(tmp_path / "out")
    assert _compare(capsys, str(a), str(b), "--out", out)[0] == 0
    assert _compare(capsys, str(a), str(b), "--out", out, "--threshold", "2")[0] == 3


def _noisy(root: Path, rx: list[float]) -> None:
    """A 1 Mpps test whose receiver's rate swings from second to second."""
    p = params(rate=1000000)
    tx = [{"attempted": 1000000, "sent": 1000000, "dropped": 0}] * len(rx)
    rcv = [{"rx": r, "lost": 0, "reordered": 0, "duplicated": 0} for r in rx]
    write_test(root / "noisy", p, [("icp0", "send", log_text("send", tx)),
                                   ("icp1", "recv", log_text("recv", rcv))])


def test_change_within_the_per_second_spread_is_no_change(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _noisy(tmp_path / "a", [500000.0, 900000.0] * 10)  # M 700 k, std about 205 k
    _noisy(tmp_path / "b", [450000.0, 850000.0] * 10)  # 7 % lower: beyond 5 %, not the spread
    code, _err = _compare(capsys, str(tmp_path / "a"), str(tmp_path / "b"),
                          "--out", str(tmp_path / "out"))
    assert code == 0
    table = pd.read_csv(tmp_path / "out" / "compare.csv").set_index("metric")
    assert table.loc["m_pps", "over_threshold"]
    assert not table.loc["m_pps", "beyond_spread"]
    assert table.loc["m_pps", "verdict"] == "no change"


def test_configurations_in_one_side_are_listed_not_compared(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b", extra=True)
    code, err = _compare(capsys, str(a), str(b), "--out", str(tmp_path / "out"))
    assert code == 0
    assert "3 configuration(s) compared, 1 in only one of A and B" in err
    only = pd.read_csv(tmp_path / "out" / "only_in_one.csv")
    assert only[["pkt_size", "rate", "only_in"]].values.tolist() == [[1500, 1000, "B"]]
    assert 1500 not in set(pd.read_csv(tmp_path / "out" / "compare.csv")["pkt_size"])


def test_report_directories_compare_like_their_trees(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b", rx=600000.0)
    for side in ("a", "b"):
        assert main([str(tmp_path / side), "--out", str(tmp_path / f"report-{side}"),
                     "--no-figures"]) == 0
    capsys.readouterr()
    code, err = _compare(capsys, str(tmp_path / "report-a"), str(tmp_path / "report-b"),
                         "--out", str(tmp_path / "from-reports"), "--no-figures")
    assert code == 3, err
    assert _compare(capsys, str(a), str(b), "--out", str(tmp_path / "from-trees"),
                    "--no-figures")[0] == 3
    reports = pd.read_csv(tmp_path / "from-reports" / "compare.csv")
    trees = pd.read_csv(tmp_path / "from-trees" / "compare.csv")
    pd.testing.assert_frame_equal(reports.drop(columns=["ids_a", "ids_b"]),
                                  trees.drop(columns=["ids_a", "ids_b"]))


def test_repeated_trials_give_the_spread(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for trial, rx in (("t1/", 900000.0), ("t2/", 800000.0)):
        _run(tmp_path / "a", rx=rx, trial=trial)
        _run(tmp_path / "b", rx=rx - 60000.0, trial=trial)  # 7 % lower, trials differ 11 %
    code, err = _compare(capsys, str(tmp_path / "a"), str(tmp_path / "b"),
                         "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "spread from the repeated trials of each configuration" in err
    table = pd.read_csv(tmp_path / "out" / "compare.csv")
    m = table[(table["metric"] == "m_pps") & (table["rate"] == 1000000)].iloc[0]
    assert (m["trials_a"], m["trials_b"], m["a"]) == (2, 2, 850000.0)
    assert m["spread_from"] == "trials"
    assert m["verdict"] == "no change"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "-1"], "--threshold wants a percentage >= 0, not '-1'"),
        (["--threshold", "five"], "--threshold wants a percentage >= 0, not 'five'"),
        (["--warmup", "x"], "--warmup wants a whole number of seconds >= 0, not 'x'"),
    ],
)
def test_bad_flags_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             args: list[str], message: str) -> None:
    a = _run(tmp_path / "a")
    with pytest.raises(SystemExit) as info:
        main(["compare", str(a), str(a), "--out", str(tmp_path / "out"), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_out_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["compare", str(tmp_path), str(tmp_path)])
    assert "--out" in capsys.readouterr().err


def test_bad_inputs_name_the_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path / "a")
    code, err = _compare(capsys, str(a), str(tmp_path / "absent"), "--out", str(tmp_path / "o"))
    assert code == 2
    assert f"B: {tmp_path / 'absent'}: no such directory" in err
    (tmp_path / "empty").mkdir()
    code, err = _compare(capsys, str(tmp_path / "empty"), str(a), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "A: " in err and "directory is empty" in err
    old = tmp_path / "old-report"
    old.mkdir()
    (old / "summary.csv").write_text("id\n")
    code, err = _compare(capsys, str(a), str(old), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "B: " in err and "without metrics.csv" in err
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_a_test_failed_in_b_is_a_regression(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    record = next(b.glob("*-1000000/test.json"))
    doc = json.loads(record.read_text()) | {"status": "failed", "reason": "switch died"}
    record.write_text(json.dumps(doc))
    code, err = _compare(capsys, str(a), str(b), "--out", str(tmp_path / "out"))
    assert code == 3
    assert "regression: linux-bridge P=64 R=1000000: ok in A, failed in B" in err
    only = pd.read_csv(tmp_path / "out" / "only_in_one.csv")
    assert only[["rate", "only_in"]].values.tolist() == [[1000000, "A (failed in B)"]]
    # The other way round, a test that failed in A and ran in B is listed, not a regression.
    assert _compare(capsys, str(b), str(a), "--out", str(tmp_path / "back"))[0] == 0
    back = pd.read_csv(tmp_path / "back" / "only_in_one.csv")
    assert back["only_in"].tolist() == ["B (failed in A)"]
