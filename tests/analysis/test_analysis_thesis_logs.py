from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from icperf_analysis.aggregate import Aggregates
from icperf_analysis.load import Dataset
from icperf_analysis.thesis_logs import parse_count, read_leaf, read_text_log


def _row(result: tuple[Dataset, Aggregates], test_id: str) -> pd.Series:
    summary = result[1].summary
    return summary.reset_index().set_index("id").loc[test_id]


def test_app_is_inferred_from_line_kinds(tmp_path: Path) -> None:
    files = {"zz": "Tx-pps: 90 10 100\nTx-pps: 95 5 100\n", "aa": "EAL: init\nRx-pps: 80\n",
             "cc": "Avg delay (us) and rx count: 12.5 1000\n", "ss": "Srv-pps: 7 7\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    logs = {name: read_text_log(tmp_path / name) for name in files}
    roles = {name: log.role for name, log in logs.items() if log is not None}
    assert roles == {"zz": "send", "aa": "recv", "cc": "client", "ss": "server"}
    send = read_text_log(tmp_path / "zz")
    assert send is not None
    np.testing.assert_array_equal(send.seconds["sent"], [90, 95])
    np.testing.assert_array_equal(send.seconds["attempted"], [100, 100])
    client = read_text_log(tmp_path / "cc")
    assert client is not None and client.seconds["rtt_mean_ns"][0] == 12500.0


def test_icperf_text_form_extra_numbers_and_nan_delay(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_text("Start: app=client transport=udp\n"
                    "Avg delay (us) and rx count: nan 0\n"
                    "Avg delay (us) and rx count: 20.000 4 99\n"
                    "Summary: app=client seconds=2\n"
                    "Hist: app=client unit=ns buckets=19000:1,21000:3\n")
    log = read_text_log(path)
    assert log is not None and log.role == "client" and log.has_summary
    assert log.corrupt_lines == 0
    np.testing.assert_array_equal(log.seconds["echoed"], [0, 4])
    assert np.isnan(log.seconds["rtt_mean_ns"][0])
    assert log.hist is not None
    np.testing.assert_array_equal(log.hist[0], [19000, 21000])
    np.testing.assert_array_equal(log.hist[1], [1, 3])


def test_corrupt_line_keeps_later_seconds_in_place(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_text("Rx-pps: 1\nRx-pps: x\nRx-pps: 3\nTx-pps: 1 2\n")
    log = read_text_log(path)
    assert log is not None
    assert log.corrupt_lines == 2  # the unparsable Rx line and the Tx line in an Rx file
    np.testing.assert_array_equal(log.seconds["sec"], [1, 3])
    np.testing.assert_array_equal(log.seconds["rx"], [1, 3])


def test_file_without_statistics_is_not_a_log(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("EAL: Detected 2 lcore(s)\n")
    assert read_text_log(tmp_path / "x") is None


@pytest.mark.parametrize(("text", "value"), [("1000000", 1000000), ("1M", 1000000),
                                             ("500k", 500000), ("2.5M", 2500000),
                                             ("ovs", None), ("-1", None)])
def test_parse_count(text: str, value: int | None) -> None:
    assert parse_count(text) == value


def test_leaf_params_come_from_the_path_and_pairs_from_receivers(thesis_tree: Path) -> None:
    test = read_leaf(thesis_tree / "2vs2/32/ovs/64/1000000", "remote")
    assert test is not None
    assert test.params == {"hosts": "remote", "vswitch": "ovs", "burst": 32, "pkt_size": 64,
                           "rate": 1000000, "lab": "2vs2", "dimension": "throughput",
                           "pairs": 2}
    assert test.problems == ["r2: 1 corrupt line(s) skipped"]


def test_not_a_thesis_leaf(tmp_path: Path) -> None:
    leaf = tmp_path / "x" / "ovs" / "64" / "fast"
    leaf.mkdir(parents=True)
    (leaf / "log").write_text("Rx-pps: 5\n")
    assert read_leaf(leaf, "local") is None


def test_thesis_throughput_hand_computed(thesis_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(thesis_result, "thesis:32/linux-bridge/64/1000000")
    assert row["source"] == "thesis"
    assert (row["dimension"], row["pairs"], row["lab"]) == ("throughput", 1, "1vs1")
    assert row["m_pps"] == pytest.approx(500_000)  # 500k, 510k, 490k, 500k
    assert row["t_pps"] == pytest.approx(500_000)
    assert row["loss_ratio"] == pytest.approx(0.5)
    apps = thesis_result[1].apps
    recv = apps[(apps["test_idx"] == row["test_idx"]) & (apps["role"] == "recv")].iloc[0]
    assert recv["rate_std"] == pytest.approx((2e8 / 3) ** 0.5)
    assert recv["rate_cv"] == pytest.approx((2e8 / 3) ** 0.5 / 500_000)
    assert not row["partial"]

    row = _row(thesis_result, "thesis:32/linux-bridge/64/2000000")
    assert row["m_pps"] == pytest.approx(600_000)
    assert row["sent_pps"] == pytest.approx(1_500_000)
    assert row["drop_ratio"] == pytest.approx(0.25)


def test_thesis_pairs_and_corrupt_line(thesis_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(thesis_result, "thesis:2vs2/32/ovs/64/1000000")
    assert row["pairs"] == 2
    assert row["m_pps"] == pytest.approx(400_000)  # receivers 300k and 500k
    assert row["t_pps"] == pytest.approx(800_000)
    assert row["partial"]
    assert "r2: 1 corrupt line(s) skipped" in row["problems"]
    assert row["seconds_used"] == 3  # second 7 of r2 lost


def test_own_text_form_in_thesis_tree(thesis_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(thesis_result, "thesis:32/ovs/64/1000000")
    assert row["m_pps"] == pytest.approx(800_000)
    assert row["sent_pps"] == pytest.approx(1_000_000)
    apps = thesis_result[1].apps
    recv = apps[(apps["test_idx"] == row["test_idx"]) & (apps["role"] == "recv")].iloc[0]
    assert recv["lost"] == 40  # 10 a second over the 4 steady seconds
    assert not row["partial"]  # both files end with a Summary line


def test_thesis_latency(thesis_result: tuple[Dataset, Aggregates]) -> None:
    row = _row(thesis_result, "thesis:4/ovs/64/1000")
    assert (row["dimension"], row["pairs"], row["rate"], row["burst"]) == ("latency", 1, 1000, 4)
    assert row["rtt_mean_us"] == pytest.approx(15.5)
    assert row["rtt_source"] == "seconds"
    assert np.isnan(row["rtt_p99_us"])  # the thesis logs carry no histogram
