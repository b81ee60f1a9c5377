"""The sample logs under tests/data/records/ come from real runs of the applets (docs/records.md).

Reading them here holds the analysis side to the same files the writer side is tested with.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from icperf_analysis import histogram
from icperf_analysis.records import ROLE_COLUMNS, read_log, role_of
from icperf_analysis.thesis_logs import read_text_log

from analysis_trees import analyse, params

RECORDS = Path(__file__).parents[1] / "data" / "records"
JSON_SAMPLES = sorted(RECORDS.glob("*.jsonl"))
TEXT_SAMPLES = sorted(p for p in RECORDS.glob("*") if p.is_file() and p.suffix in (".txt", ".log"))
NO_SAMPLES = f"no sample logs in {RECORDS} yet (they come from real runs of native/)"


def _role(path: Path) -> str:
    start = json.loads(path.read_text().splitlines()[0])
    role = role_of(start["app"])
    assert role is not None, f"{path.name}: unknown app {start['app']!r}"
    return role


@pytest.mark.skipif(not JSON_SAMPLES, reason=NO_SAMPLES)
@pytest.mark.parametrize("path", JSON_SAMPLES, ids=[p.name for p in JSON_SAMPLES])
def test_json_sample_reads_cleanly(path: Path) -> None:
    role = _role(path)
    log = read_log(path, role)
    assert log.corrupt_lines == 0
    assert log.summary is not None
    assert log.notes == []
    assert log.n_seconds == log.summary["seconds"]
    np.testing.assert_array_equal(log.seconds["sec"], np.arange(1, log.n_seconds + 1))
    for name in ROLE_COLUMNS[role]:
        if name in ("sec", "t") or name.startswith("rtt_"):
            continue
        per_second = np.nansum(log.seconds[name])
        # A run stopped by a signal counts its last, unfinished second only in the summary.
        if log.summary["reason"] == "duration":
            assert per_second == log.summary[name], name
        else:
            assert per_second <= log.summary[name], name


@pytest.mark.skipif(not JSON_SAMPLES, reason=NO_SAMPLES)
def test_client_summary_agrees_with_its_histogram() -> None:
    clients = [p for p in JSON_SAMPLES if _role(p) == "client"]
    if not clients:
        pytest.skip(f"no client sample in {RECORDS}")
    for path in clients:
        log = read_log(path, "client")
        assert log.has_hist and log.summary is not None
        buckets = pd.DataFrame({"test_idx": 0, "value_ns": log.hist_values,
                                "count": log.hist_counts})
        out = histogram.summarise(histogram.merge(buckets, ["test_idx"]), ["test_idx"]).loc[0]
        assert out["count"] == log.summary["echoed"]
        # Bucket values are within the histogram's 1 % resolution of the exact figures.
        for p in histogram.PERCENTILES:
            assert out[f"{p}_ns"] == pytest.approx(log.summary[f"rtt_{p}_ns"], rel=0.01), p
        assert out["mean_ns"] == pytest.approx(log.summary["rtt_mean_ns"], rel=0.01)


@pytest.mark.skipif(not TEXT_SAMPLES, reason=f"no text-form sample logs in {RECORDS} yet")
@pytest.mark.parametrize("path", TEXT_SAMPLES, ids=[p.name for p in TEXT_SAMPLES])
def test_text_sample_reads_cleanly(path: Path) -> None:
    log = read_text_log(path)
    assert log is not None
    assert log.corrupt_lines == 0
    assert log.has_summary
    assert log.n_seconds > 0


def _pair_test(root: Path, dimension: str, first: str, second: str) -> Path:
    """A test folder holding two sample logs, described as the playbooks describe tests."""
    folder = root / dimension
    folder.mkdir()
    apps = []
    for container, name in (("icp0", first), ("icp1", second)):
        shutil.copy(RECORDS / f"{name}.jsonl", folder / f"{container}.{name}.jsonl")
        apps.append({"container": container, "app": name, "peer": "icp1", "host": "localhost",
                     "log": f"{container}.{name}.jsonl"})
    start = json.loads((RECORDS / f"{first}.jsonl").read_text().splitlines()[0])
    p = params(dimension=dimension, vswitch="linux-bridge", pkt_size=start["pkt_size"],
               rate=start["rate"], burst=start["burst"], duration=start["duration"])
    (folder / "test.json").write_text(json.dumps(
        {"v": 1, "id": dimension, "params": p, "status": "ok", "reason": None, "apps": apps}))
    return folder


@pytest.mark.skipif(not (RECORDS / "client.jsonl").exists(), reason=NO_SAMPLES)
def test_sample_latency_pair_through_the_pipeline(tmp_path: Path) -> None:
    _pair_test(tmp_path, "latency", "client", "server")
    row = analyse(tmp_path, 1, 1)[1].summary.iloc[0]
    summary = json.loads((RECORDS / "client.jsonl").read_text().splitlines()[-2])
    assert summary["type"] == "summary"
    assert not row["partial"], row["problems"]
    assert row["rtt_hist_count"] == summary["echoed"]
    # Same histogram, same nearest-rank rule, same clamping: the applet's own percentiles.
    for p in histogram.PERCENTILES:
        assert row[f"rtt_{p}_us"] * 1000 == pytest.approx(summary[f"rtt_{p}_ns"], rel=1e-12), p
    assert row["rtt_mean_us"] * 1000 == pytest.approx(summary["rtt_mean_ns"], rel=0.01)


@pytest.mark.skipif(not (RECORDS / "recv.jsonl").exists(), reason=NO_SAMPLES)
def test_sample_throughput_pair_through_the_pipeline(tmp_path: Path) -> None:
    _pair_test(tmp_path, "throughput", "send", "recv")
    row = analyse(tmp_path, 1, 1)[1].summary.iloc[0]
    lines = (RECORDS / "recv.jsonl").read_text().splitlines()
    rx = [json.loads(line)["rx"] for line in lines if '"type":"second"' in line]
    assert row["m_pps"] == pytest.approx(np.mean(rx[1:-1]))  # all but the first and last second
    assert row["t_pps"] == row["m_pps"]
    assert not row["partial"], row["problems"]
