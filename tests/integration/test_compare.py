"""`icperf-analyze compare` on real runs: a rerun is no change, a slowed switch a regression.

Three short linux-bridge runs of testset.yml (one size, one rate) into three results trees.
The slowed run is the same test (same identity) through a bridge port limited by a token
bucket on the receiver's host-side veth, as a switch that got slower would be.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import pandas as pd
from icperf_analysis.cli import main

from .conftest import HOST_TEST_MARKS, base_vars, host_state, links, run_playbook

pytestmark = HOST_TEST_MARKS

RECEIVER_VETH = "icpv-icpl-r0"  # labfile.host_veth of icpl-r0
# 64 B frames at 20 kpps are 10.2 Mbit/s: a 3 Mbit/s bucket passes under a third of them.
LIMIT = ["root", "tbf", "rate", "3mbit", "burst", "4kb", "latency", "20ms"]
TEST = "icpl-pair/d3/32/linux-bridge/64/20000"


def _limit_receiver_port(stop: threading.Event, applied: list[bool]) -> None:
    """Put the token bucket on the receiver's port as soon as the playbook creates it."""
    while not stop.wait(0.02):
        if RECEIVER_VETH in links():
            done = subprocess.run(["tc", "qdisc", "replace", "dev", RECEIVER_VETH, *LIMIT],
                                  capture_output=True, check=False)
            if done.returncode == 0:
                applied.append(True)
                return


def _run(tmp: Path, name: str, slowed: bool = False) -> Path:
    stop, applied = threading.Event(), []
    watcher = threading.Thread(target=_limit_receiver_port, args=(stop, applied), daemon=True)
    if slowed:
        watcher.start()
    try:
        run = run_playbook(tmp / name, "testset.yml",
                           base_vars(tmp / name, rates=20000, pkt_sizes=64, duration=3,
                                     provision=False))
    finally:
        stop.set()
        if slowed:
            watcher.join()
    assert run.rc == 0, run.stdout[-4000:]
    assert not slowed or applied, "the receiver's port never appeared"
    return tmp / name / "results"


def test_compare_tells_a_slowed_switch_from_a_rerun(
    tmp_path: Path, clean_host: dict[str, Any], provisioned: None, capsys: Any
) -> None:
    a, rerun, slowed = _run(tmp_path, "a"), _run(tmp_path, "rerun"), _run(tmp_path, "slow", True)
    assert host_state() == clean_host
    for path in (a, rerun, slowed):
        assert (path / TEST / "test.json").is_file()
    window = ["--warmup", "0", "--cooldown", "0"]

    assert main(["compare", str(a), str(rerun), "--out", str(tmp_path / "same"), *window]) == 0
    err = capsys.readouterr().err
    assert "1 configuration(s) compared" in err
    assert "(no change)" in err
    same = pd.read_csv(tmp_path / "same" / "compare.csv")
    assert set(same["verdict"]) == {"no change"}
    assert set(same["spread_from"]) == {"seconds"}

    assert main(["compare", str(a), str(slowed), "--out", str(tmp_path / "slow"), *window]) == 3
    err = capsys.readouterr().err
    assert "regression: linux-bridge P=64 R=20000 m_pps" in err
    slow = pd.read_csv(tmp_path / "slow" / "compare.csv").set_index("metric")
    assert slow.loc["m_pps", "verdict"] == "regression"
    assert slow.loc["m_pps", "b"] < 0.6 * slow.loc["m_pps", "a"]
    assert slow.loc["loss_ratio", "verdict"] == "regression"
