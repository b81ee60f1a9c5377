from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from icperf_analysis.cli import main

DATA = Path(__file__).parent / "data"
ENTRY_POINT = Path(sys.executable).parent / "icperf-analyze"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    shutil.copytree(DATA / "icperf_tree", root / "new")
    shutil.copytree(DATA / "thesis_tree", root / "old")
    out = tmp_path_factory.mktemp("report")
    assert main([str(root), "--out", str(out)]) == 0
    return out


def test_outputs(report_dir: Path) -> None:
    summary = pd.read_csv(report_dir / "summary.csv")
    assert len(summary) == 15  # one row per test: 10 icperf + 5 thesis
    assert summary["id"].is_unique
    with gzip.open(report_dir / "per_second.csv.gz", "rt") as f:
        per_second = pd.read_csv(f)
    assert len(per_second) == 277 + 153
    assert {"id", "vswitch", "pkt_size", "role", "sec", "rx", "kept"} <= set(per_second.columns)
    kept = per_second[(per_second["id"] == "32/linux-bridge/64/1000000")
                      & (per_second["role"] == "recv") & per_second["kept"]]
    assert list(kept["sec"]) == [6, 7, 8, 9]
    maxima = pd.read_csv(report_dir / "max_throughput.csv")
    assert set(maxima["source"]) == {"icperf", "thesis"}
    figures = sorted(p.name for p in (report_dir / "figures").iterdir())
    assert len([n for n in figures if n.endswith(".png")]) == len(
        [n for n in figures if n.endswith(".svg")]) > 0


def test_report_is_self_contained_and_names_problems(report_dir: Path) -> None:
    text = (report_dir / "report.html").read_text()
    assert "ovs-vswitchd did not start within 30 s" in text  # failed test's reason
    assert "icp1.recv.jsonl: log missing" in text
    assert "icp1.recv.jsonl: 2 corrupt record line(s) skipped" in text
    assert "r2: 1 corrupt line(s) skipped" in text
    assert "Intel(R) Xeon(R) CPU E5-2640 v4 @ 2.40GHz" in text  # host facts
    assert "6.1.0-27-amd64" in text
    assert "isolcpus=1" in text
    assert "5.0.2" in text  # versions
    assert "32/linux-bridge/128/1000000" in text and "too short" in text
    pngs = len(list((report_dir / "figures").glob("*.png")))
    assert text.count("src='data:image/png;base64,") == pngs
    assert "src='figures/" not in text and 'src="figures/' not in text
    assert "Skipped" not in text  # every figure type has data here


def test_skipped_figure_types_are_listed(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(DATA / "icperf_tree/4/linux-bridge/64/1000", tmp_path / "in")
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "figure type rx_vs_tx skipped: no successful throughput test" in err
    assert "Skipped: no successful throughput test" in (tmp_path / "out/report.html").read_text()


def test_excluded_switches_leave_the_other_tests_as_they_were(
        report_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "mixed"
    shutil.copytree(DATA / "icperf_tree", root / "new")
    shutil.copytree(DATA / "thesis_tree", root / "old")
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out), "--exclude-vswitch", "ovs"]) == 0
    assert "left out: the tests of ovs" in capsys.readouterr().err
    full = pd.read_csv(report_dir / "summary.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert set(full["vswitch"]) == {"linux-bridge", "ovs"}
    assert set(summary["vswitch"]) == {"linux-bridge"}
    # Every other test keeps its figures and its seconds, row for row.
    pd.testing.assert_frame_equal(
        summary, full[full["vswitch"] != "ovs"].reset_index(drop=True), check_dtype=False)
    with gzip.open(report_dir / "per_second.csv.gz", "rt") as f:
        every_second = pd.read_csv(f)
    with gzip.open(out / "per_second.csv.gz", "rt") as f:
        per_second = pd.read_csv(f)
    pd.testing.assert_frame_equal(
        per_second, every_second[every_second["vswitch"] != "ovs"].reset_index(drop=True),
        check_dtype=False)
    assert "32/ovs/64/1000000" not in (out / "report.html").read_text()


@pytest.mark.parametrize(("names", "says"), [
    (["snabb"], "--exclude-vswitch: no test of snabb in "),
    (["ovs,linux-bridge"], "--exclude-vswitch: every test of "),
])
def test_excluding_what_is_not_there_or_everything_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], names: list[str], says: str) -> None:
    argv = [str(DATA / "icperf_tree"), "--out", str(tmp_path / "out")]
    assert main([*argv, *(a for n in names for a in ("--exclude-vswitch", n))]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_warmup_flag_changes_the_means(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(DATA / "icperf_tree"), "--out", str(out), "--warmup", "0", "--cooldown",
                 "0", "--no-figures"]) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("id")
    assert summary.loc["32/linux-bridge/64/1000000", "m_pps"] == pytest.approx(7_200_100 / 14)
    assert not (out / "figures").exists()


def test_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path.resolve()}: directory is empty" in err
    assert not (tmp_path / "out").exists()


def test_foreign_directory_through_the_entry_point(tmp_path: Path) -> None:
    foreign = DATA / "bad" / "foreign"
    run = subprocess.run([str(ENTRY_POINT), str(foreign), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert f"{foreign.resolve()}: no test.json and no thesis framework logs found" in run.stderr
    assert run.stdout == ""


def test_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path / 'nope'}: no such directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("tree", "file", "version"),
    [("test_version", "test.json", "test.json schema version 2 is not supported (known: 1)"),
     ("record_version", "icp1.recv.jsonl", "record schema version 3 is not supported (known: 1)")],
)
def test_unknown_schema_versions_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             tree: str, file: str, version: str) -> None:
    assert main([str(DATA / "bad" / tree), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    leaf = (DATA / "bad" / tree / "32/linux-bridge/64/1000000").resolve()
    assert f"{leaf / file}: {version}" in err


@pytest.mark.parametrize(("flag", "value"), [("--warmup", "-1"), ("--cooldown", "x"),
                                             ("--line-rate-gbps", "0"),
                                             ("--exclude-vswitch", "ovs,")])
def test_bad_flags_name_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str,
                                 value: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(DATA / "icperf_tree"), "--out", str(tmp_path), flag, value])
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err
