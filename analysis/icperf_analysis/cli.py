"""`icperf-analyze RESULTS_DIR --out REPORT_DIR`: tables, figures and report of a results tree."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, report, search
from .aggregate import Aggregates, Window, aggregate
from .errors import InputError
from .figures import FigureSet, save
from .load import Dataset, load_results
from .metrics import METRICS_FILE, test_metrics
from .plots import build_all
from .records import SECOND_COLUMNS
from .selection import without_vswitches

EXIT_INPUT = 2


@dataclass
class Analysis:
    dataset: Dataset
    aggregates: Aggregates
    figures: FigureSet | None


def _seconds(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{flag} wants a whole number of seconds >= 0, "
                                             f"not {text!r}")
        return value

    parse.__name__ = flag
    return parse


def number(flag: str, wants: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse type for a number that `ok` accepts; the message names the flag."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")  # fails every `ok`
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{flag} wants {wants}, not {text!r}")
        return value

    parse.__name__ = flag
    return parse


def _switch_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"--exclude-vswitch wants switch names, e.g. snabb or snabb,vpp, not {text!r}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="icperf-analyze",
        description="Summarise an icperf results tree (and thesis framework logs) into CSV "
        "tables, figures and a self-contained HTML report.",
        epilog="icperf-analyze compare A B --out DIR compares two results trees or reports "
        "(icperf-analyze compare --help).",
    )
    p.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    p.add_argument("--out", type=Path, required=True, metavar="REPORT_DIR",
                   help="where summary.csv, per_second.csv.gz, figures/ and report.html go")
    p.add_argument("--warmup", type=_seconds("--warmup"), default=5,
                   help="seconds dropped at the start of every app's run (default 5)")
    p.add_argument("--cooldown", type=_seconds("--cooldown"), default=5,
                   help="seconds dropped at the end of every app's run (default 5)")
    p.add_argument("--thesis-hosts", choices=("local", "remote"), default="local",
                   help="L of thesis framework logs, which do not record it (default local)")
    p.add_argument("--line-rate-gbps", type=number("--line-rate-gbps", "a number > 0",
                                                   lambda v: v > 0), default=10.0,
                   help="line rate drawn as reference where tests crossed hosts (default 10)")
    p.add_argument("--exclude-vswitch", type=_switch_names, action="extend", default=[],
                   metavar="NAME[,NAME]",
                   help="leave the tests of these switches out of tables, figures and report "
                   "(repeatable)")
    p.add_argument("--no-figures", action="store_true", help="skip figures (tables only)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def summarise(results: Path, window: Window, thesis_hosts: str = "local",
              exclude: Sequence[str] = ()) -> Analysis:
    """Loading and aggregation: everything but figures and files."""
    dataset = load_results(results, thesis_hosts=thesis_hosts)
    if exclude:
        try:
            dataset = without_vswitches(dataset, exclude)
        except InputError as exc:
            raise InputError(f"--exclude-vswitch: {exc}") from None
    return Analysis(dataset, aggregate(dataset, window), None)


def write_tables(analysis: Analysis, out: Path) -> None:
    agg = analysis.aggregates
    agg.summary.to_csv(out / "summary.csv", index=False)
    agg.apps.to_csv(out / "apps.csv")
    agg.maxima.to_csv(out / "max_throughput.csv", index=False)
    test_metrics(analysis.dataset, agg).to_csv(out / METRICS_FILE, index=False)  # for compare
    per_second = analysis.dataset.per_second()
    per_second["kept"] = agg.kept
    for column in SECOND_COLUMNS:
        values = per_second[column]
        # Counters are integers; written as such they read back as such and write faster.
        if column != "t" and (values.isna() | (values == values.round())).all():
            per_second[column] = values.astype("Int64")
    # Level 1: the file is written several times faster than at gzip's default level 9.
    per_second.to_csv(out / "per_second.csv.gz", index=False,
                      compression={"method": "gzip", "compresslevel": 1})


def draw(analysis: Analysis, out: Path, line_bps: float) -> FigureSet:
    figures = build_all(analysis.aggregates, line_bps)
    save(figures.figures, out / "figures")
    analysis.figures = figures
    return figures


def _warn(message: str) -> None:
    print(f"icperf-analyze: {message}", file=sys.stderr)


def _tell(analysis: Analysis, window: Window) -> None:
    s = analysis.aggregates.summary
    n_failed = int((s["status"] != "ok").sum())
    _warn(f"{len(s)} tests, {len(analysis.dataset.seconds)} per-second records, "
          f"{n_failed} failed, {int(s['partial'].sum())} partial")
    for row in s[s["partial"].astype(bool)].itertuples():
        _warn(f"partial: {row.id}: {row.problems}")
    short = s[s["short"].astype(bool)]
    if not short.empty:
        _warn(f"{len(short)} test(s) too short to drop {window.warmup} s warm-up and "
              f"{window.cooldown} s shutdown; all their seconds kept: "
              + ", ".join(short["id"].astype(str)))
    for column, what in (("shared_cores", "ran with busy pollers sharing cores"),
                         ("sender_short", "had a sender more than 1 % short of the rate R")):
        flagged = s.loc[s[column].eq(True), "path"]
        if not flagged.empty:
            shown = ", ".join(flagged.astype(str)[:10]) + (", ..." if len(flagged) > 10 else "")
            _warn(f"{len(flagged)} test(s) {what}: {shown}")
    ignored = analysis.dataset.ignored
    if ignored:
        shown = ", ".join(ignored[:10]) + (", ..." if len(ignored) > 10 else "")
        _warn(f"{len(ignored)} folder(s) without test.json or thesis statistics ignored: {shown}")
    if analysis.figures is not None:
        for kind, reason in analysis.figures.skipped.items():
            _warn(f"figure type {kind} skipped: {reason}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:  # a results directory named so is given as ./compare
        from .compare import main as compare

        return compare(argv[1:])
    args = parser().parse_args(argv)
    window = Window(args.warmup, args.cooldown)
    try:
        analysis = summarise(args.results_dir, window, args.thesis_hosts,
                             args.exclude_vswitch)
        searches = search.without_vswitches(search.load(args.results_dir), args.exclude_vswitch)
    except InputError as exc:
        _warn(f"error: {exc}")
        return EXIT_INPUT
    # Folders of search records hold no tests: read here, not ignored.
    analysis.dataset.ignored = [p for p in analysis.dataset.ignored
                                if not search.is_record_folder(p)]
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _warn(f"error: --out {out}: {exc.strerror}")
        return EXIT_INPUT
    with np.errstate(invalid="ignore", divide="ignore"):
        write_tables(analysis, out)
        if not args.no_figures:
            draw(analysis, out, args.line_rate_gbps * 1e9)
        plots = search.write(searches, out, not args.no_figures)
    report.write(out / "report.html", analysis.dataset, analysis.aggregates, analysis.figures,
                 window, search.html_section(searches, plots))
    _tell(analysis, window)
    if args.exclude_vswitch:
        _warn(f"left out: the tests of {', '.join(dict.fromkeys(args.exclude_vswitch))}")
    _warn(f"report written to {out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
