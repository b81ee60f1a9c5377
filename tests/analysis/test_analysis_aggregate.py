from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from icperf_analysis.aggregate import Aggregates, Window, aggregate
from icperf_analysis.load import Dataset, load_results

from analysis_trees import analyse, latency_test, log_text, params, throughput_test, write_test

STEADY_STD = (2e8 / 3) ** 0.5  # 900k, 910k, 890k, 900k


def _row(agg: Aggregates, test_id: str) -> pd.Series:
    return agg.summary.reset_index().set_index("id").loc[test_id]


def _app(agg: Aggregates, test_id: str, role: str) -> pd.DataFrame:
    idx = _row(agg, test_id)["test_idx"]
    apps = agg.apps
    return apps[(apps["test_idx"] == idx) & (apps["role"] == role)]


def test_steady_state_mean_std_cv(icperf_result: tuple[Dataset, Aggregates]) -> None:
    agg = icperf_result[1]
    recv = _app(agg, "32/linux-bridge/64/1000000", "recv").iloc[0]
    assert recv["seconds_used"] == 4
    assert recv["rate_mean"] == pytest.approx(900_000)
    assert recv["rate_std"] == pytest.approx(STEADY_STD)
    assert recv["rate_cv"] == pytest.approx(STEADY_STD / 900_000)
    send = _app(agg, "32/linux-bridge/64/1000000", "send").iloc[0]
    assert send["rate_mean"] == pytest.approx(1_000_000)  # the 500k warm-up seconds are gone
    row = _row(agg, "32/linux-bridge/64/1000000")
    # summaries: 7 200 100 received of 11 500 000 sent over the whole run
    assert row["loss_ratio"] == pytest.approx(1 - 7_200_100 / 11_500_000)
    assert row["m_mpps"] == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("warmup", "cooldown", "mean"),
    [
        (0, 0, (2_000_000 + 3_600_000 + 1_600_100) / 14),
        (2, 3, 6_600_000 / 9),  # seconds 3..11: 400k .. 500k
        (5, 5, 900_000),
    ],
)
def test_warmup_and_cooldown_are_configurable(icperf_tree: Path, warmup: int, cooldown: int,
                                              mean: float) -> None:
    agg = analyse(icperf_tree, warmup, cooldown)[1]
    assert _row(agg, "32/linux-bridge/64/1000000")["m_pps"] == pytest.approx(mean)


def test_kept_mask_marks_the_window(icperf_result: tuple[Dataset, Aggregates]) -> None:
    dataset, agg = icperf_result
    recv_idx = _app(agg, "32/linux-bridge/64/1000000", "recv").index[0]
    rows = dataset.seconds["app_idx"] == recv_idx
    kept_secs = dataset.seconds.loc[rows & agg.kept, "sec"]
    assert list(kept_secs) == [6, 7, 8, 9]


def test_too_short_run_keeps_all_seconds_and_is_flagged(
        icperf_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(icperf_result[1], "32/linux-bridge/128/1000000")
    assert row["short"]
    assert row["seconds_used"] == 6
    assert row["m_pps"] == pytest.approx(350_000)  # mean of 100k .. 600k
    assert not _row(icperf_result[1], "32/linux-bridge/64/1000000")["short"]


def test_t_equals_m_times_n(icperf_result: tuple[Dataset, Aggregates]) -> None:
    agg = icperf_result[1]
    row = _row(agg, "2vs2/32/linux-bridge/64/1000000")
    assert row["pairs"] == 2
    assert row["m_pps"] == pytest.approx(500_000)  # receivers 600k and 400k
    assert row["t_pps"] == pytest.approx(1_000_000)
    s = agg.summary
    ok = s[s["t_pps"].notna()]
    np.testing.assert_allclose(ok["t_pps"], ok["m_pps"] * ok["pairs"])
    np.testing.assert_allclose(ok["t_pps"], ok["sum_rx_pps"])  # every receiver present
    # summaries: 6 000 100 + 5 200 100 received of 2 x 11 500 000 sent
    assert row["loss_ratio"] == pytest.approx(1 - 11_200_200 / 23_000_000)


def test_corrupt_log_counts_and_keeps_good_seconds(
        icperf_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(icperf_result[1], "32/linux-bridge/512/1000000")
    assert row["partial"]
    assert row["corrupt_lines"] == 2
    assert row["m_pps"] == pytest.approx(720_000)  # 700k, 720k, 740k; the 999999 line was cut
    assert "no summary record" in row["problems"]


def test_missing_receiver_is_nan_not_zero(icperf_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(icperf_result[1], "32/linux-bridge/1024/1000000")
    for column in ("m_pps", "t_pps", "sum_rx_pps", "loss_ratio", "t_gbps_l1"):
        assert np.isnan(row[column]), column
    assert row["sent_pps"] == pytest.approx(1_000_000)


def test_maxima_over_swept_rates(icperf_result: tuple[Dataset, Aggregates]) -> None:
    agg = icperf_result[1]
    m = agg.maxima.set_index(["lab", "vswitch", "pkt_size"])
    best = m.loc[("1vs1", "linux-bridge", 64)]
    assert best["at_rate"] == 2_000_000
    assert best["m_pps"] == pytest.approx(950_000)
    assert best["m_gbps_l2"] == pytest.approx(950_000 * 64 * 8 / 1e9)
    assert best["m_gbps_l1"] == pytest.approx(950_000 * 88 * 8 / 1e9)
    assert ("1vs1", "ovs", 64) not in m.index  # only a failed test
    assert ("1vs1", "linux-bridge", 1024) not in m.index  # no receive rate
    assert m.loc[("2vs2", "linux-bridge", 64), "t_pps"] == pytest.approx(1_000_000)
    flagged = agg.summary[agg.summary["is_max"]]
    assert set(flagged["id"]) == set(agg.maxima["at_id"])


def test_latency_from_histogram(icperf_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(icperf_result[1], "4/linux-bridge/64/1000")
    assert row["rtt_source"] == "hist"
    assert row["rtt_hist_count"] == 14_000
    assert row["rtt_mean_us"] == pytest.approx(20.5)  # 287e6 ns / 14000
    assert (row["rtt_p50_us"], row["rtt_p90_us"], row["rtt_p99_us"], row["rtt_p999_us"]) == (
        20.0, 20.0, 30.0, 100.0)
    assert row["rtt_steady_mean_us"] == pytest.approx(20.0)  # 20, 22, 18, 20


def test_latency_two_clients_merge_histograms(icperf_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(icperf_result[1], "2vs2/4/linux-bridge/1500/1000")
    assert row["rtt_p50_us"] == 30.0  # averaging the clients' p50 (10, 30) would give 20
    assert row["rtt_p99_us"] == 50.0  # averaging (50, 30) would give 40
    assert row["rtt_mean_us"] == pytest.approx(22.0)
    assert row["m_pps"] == pytest.approx(1000)  # echoes per client per second


def test_failed_test_keeps_its_reason(icperf_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(icperf_result[1], "32/ovs/64/1000000")
    assert row["status"] == "failed"
    assert row["reason"] == "ovs-vswitchd did not start within 30 s"
    assert np.isnan(row["m_pps"])
    assert not row["is_max"]


def test_sender_drops(tmp_path: Path) -> None:
    throughput_test(tmp_path, [700_000.0], sent=800_000.0)
    row = analyse(tmp_path)[1].summary.iloc[0]
    assert row["drop_ratio"] == pytest.approx(0.2)
    assert row["loss_ratio"] == pytest.approx(1 - 7 / 8)
    assert row["rate_cv_max"] == 0.0


def test_percentiles_are_clamped_to_the_measured_extremes(tmp_path: Path) -> None:
    # Bucket midpoints can lie just outside what was measured; the applets clamp to the exact
    # rtt_min_ns .. rtt_max_ns of their summary, and so does the analysis.
    folder = latency_test(tmp_path, [[10_000, 98], [20_100, 2]], 12_000)
    log = folder / "icp0.client.jsonl"
    lines = log.read_text().splitlines()
    summary = json.loads(lines[-2]) | {"rtt_min_ns": 10_050, "rtt_max_ns": 20_000}
    lines[-2] = json.dumps(summary)
    log.write_text("\n".join(lines) + "\n")
    row = analyse(tmp_path)[1].summary.iloc[0]
    assert row["rtt_p50_us"] == pytest.approx(10.05)
    assert row["rtt_p99_us"] == pytest.approx(20.0)
    assert row["rtt_hist_mean_us"] == pytest.approx((10_000 * 98 + 20_100 * 2) / 100 / 1000)


def test_loss_counts_whole_run_not_shifted_windows(tmp_path: Path) -> None:
    # The receiver runs a second longer at each end, so its steady window (its seconds 6-9 =
    # the sender's 5-8: 1M, 0.8M, 0.8M, 1M) is not the sender's (seconds 6-7: 0.8M, 0.8M):
    # mean rates give 0.9M received of 0.8M sent, yet every packet arrived.
    tx = [{"attempted": n, "sent": n, "dropped": 0}
          for n in [1_000_000] * 5 + [800_000] * 2 + [1_000_000] * 5]
    idle = [{"rx": 0, "lost": 0, "reordered": 0, "duplicated": 0}]
    rx = idle + [{"rx": t["sent"], "lost": 0, "reordered": 0, "duplicated": 0} for t in tx] + idle
    write_test(tmp_path / "shifted", params(duration=12),
               [("icp0", "send", log_text("send", tx)), ("icp1", "recv", log_text("recv", rx))])
    row = analyse(tmp_path)[1].summary.iloc[0]
    assert row["m_pps"] == pytest.approx(900_000)
    assert row["sent_pps"] == pytest.approx(800_000)
    assert row["loss_ratio"] == 0.0


@pytest.mark.parametrize("tree", ["icperf_tree", "thesis_tree"])
def test_rows_in_any_order_aggregate_alike(tree: str, request: pytest.FixtureRequest) -> None:
    # The loader writes each app's seconds together; a table in any other order (rows of
    # apps interleaved, an app's seconds reversed) must give the same statistics.
    dataset = load_results(request.getfixturevalue(tree))
    agg = aggregate(dataset, Window())
    order = np.random.default_rng(7).permutation(len(dataset.seconds))
    shuffled = dataclasses.replace(dataset,
                                   seconds=dataset.seconds.iloc[order].reset_index(drop=True))
    assert (np.diff(shuffled.seconds["app_idx"].to_numpy()) < 0).any()
    again = aggregate(shuffled, Window())
    np.testing.assert_array_equal(again.kept, agg.kept[order])
    pd.testing.assert_frame_equal(again.summary, agg.summary, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(again.apps, agg.apps, check_exact=False, rtol=1e-12)


def test_no_seconds_at_all(tmp_path: Path) -> None:
    # Tests whose logs hold no second record: every app's statistics are unknown, none fail.
    folder = throughput_test(tmp_path, [500_000.0])
    for log in folder.glob("*.jsonl"):
        log.write_text("".join(line + "\n" for line in log.read_text().splitlines()
                               if '"second"' not in line))
    dataset, agg = analyse(tmp_path)
    assert dataset.seconds.empty
    assert (agg.apps["seconds_used"] == 0).all()
    assert agg.apps["rate_mean"].isna().all() and agg.apps["sent_mean"].isna().all()
    assert agg.summary["m_pps"].isna().all()
