"""Packet rate and round trip of icperf's AF_XDP transport (-X) next to its best socket modes
and trafgen, on the topology of socket_bench.py (two namespaces, a linux bridge in a third,
rebuilt for every run). Cases are interleaved over rounds and medians compared. Run as root:

    .venv/bin/python benchmarks/xdp_bench.py [--seconds 5] [--rounds 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from socket_bench import REPO, Bench, Result, interrupted, median, series, shown
from socket_lab import (
    IF_A,
    IF_B,
    BenchError,
    destroy_topology,
    loadavg,
    machine,
    stop_all,
    topology,
    wait_quiet,
)

XDP_A, XDP_B = ["-X", IF_A], ["-X", IF_B]
RAW_A, RAW_B = ["-R", IF_A, "-m"], ["-R", IF_B, "-m"]
# The socket modes that lead docs/benchmarks-socket.md; the best of them in this run is
# the reference.
SOCKET_CASES = ("icperf raw+mmsg", "icperf udp+mmsg")
RTT_CASES = ("icperf client -B", "icperf client xdp -B")
TARGET = 3.0  # AF_XDP >= 3 x the best socket mode (issue 14)


def cases(bench: Bench) -> dict[str, Callable[[], Result]]:
    return {
        "icperf xdp": lambda: bench.icperf_flood(XDP_A, XDP_B),
        "icperf raw+mmsg": lambda: bench.icperf_flood(RAW_A, RAW_B),
        "icperf udp+mmsg": lambda: bench.icperf_flood(["-m"], ["-m"]),
        "trafgen": bench.trafgen,
        # One side AF_XDP, the other the best socket mode: which side bounds the rate.
        "xdp send->raw recv": lambda: bench.icperf_flood(XDP_A, RAW_B),
        "raw send->xdp recv": lambda: bench.icperf_flood(RAW_A, XDP_B),
        "icperf client -B": lambda: bench.icperf_rtt(True),
        "icperf client xdp -B": lambda: bench.icperf_rtt(True, tuple(XDP_A), tuple(XDP_B)),
    }


def per_cpu(run: Result) -> None:
    """The receiving veth's rate per CPU-second the sender got: the machine is shared, and a
    sender that gets half a CPU sends about half as much."""
    if run.get("veth_pps") and run.get("sender_cpu_pct"):
        run["pps_per_cpu"] = run["veth_pps"] * 100 / run["sender_cpu_pct"]


def ratio(runs: list[Result], num_case: str, den_case: str | None, key: str) -> dict[str, Any]:
    num, den = series(runs, num_case, key), series(runs, den_case or "", key)
    num_med, den_med = median(num), median(den)
    value = num_med / den_med if num_med is not None and den_med else None
    return {"ratio": value, "per_round": [num[r] / den[r] for r in sorted(num.keys() & den.keys())]}


def report(runs: list[Result], names: list[str]) -> dict[str, Any]:
    keys = ("pps", "veth_pps", "sender_cpu_pct", "pps_per_cpu", "rtt_p50_ns")
    med = {n: {k: median(series(runs, n, k)) for k in keys} for n in names}
    ok = {n: sum(1 for r in runs if r["case"] == n and "error" not in r) for n in names}
    modes = sorted({r["xdp_mode"] for r in runs if r.get("xdp_mode")})
    sockets = [n for n in SOCKET_CASES if med.get(n, {}).get("pps")]
    best = max(sockets, key=lambda n: med[n]["pps"] or 0.0, default=None)
    base = med[best]["pps"] if best else None
    fmt = "{:<20} {:>10} {:>7} {:>11} {:>8} {:>11} {:>5}"
    print(fmt.format("tool / mode", "rx pps", "x best", "veth pps", "sender %", "pps per CPU",
                     "runs"))
    for n in (n for n in names if n not in RTT_CASES):
        pps, m = med[n]["pps"], med[n]
        print(fmt.format(n, shown(pps, ",.0f"), shown(base and pps and pps / base, ".2f"),
                         shown(m["veth_pps"], ",.0f"), shown(m["sender_cpu_pct"], ".0f"),
                         shown(m["pps_per_cpu"], ",.0f"), ok[n]))
    for n in (n for n in RTT_CASES if n in names):
        print(f"{n:<20} p50 RTT {shown(med[n]['rtt_p50_ns'], ',.0f'):>10} ns, runs {ok[n]}")
    print(f"XDP mode of the receivers: {', '.join(modes) or 'none ran'}\n")
    verdicts = []
    checks = (  # label, denominator case, key, bound (None: said, not judged)
        (f"icperf xdp >= {TARGET:.2f} x best socket mode ({best})", best, "pps", TARGET),
        ("icperf xdp vs trafgen", "trafgen", "pps", None),
        (f"per sender CPU-second: icperf xdp vs {best}", best, "pps_per_cpu", None),
        ("per sender CPU-second: icperf xdp vs trafgen", "trafgen", "pps_per_cpu", None),
    )
    for label, den_case, key, bound in checks:
        found = ratio(runs, "icperf xdp", den_case, key)
        value, rounds = found["ratio"], found["per_round"]
        verdict = ("n/a" if value is None or bound is None
                   else "PASS" if value >= bound else "MISS")
        verdicts.append({"target": label, **found, "verdict": verdict})
        spread = f" (per round {min(rounds):.2f}..{max(rounds):.2f})" if rounds else ""
        print(f"{verdict:<4} {label}: {shown(value, '.2f')}{spread}")
    return {"medians": med, "best_socket_mode": best, "xdp_modes": modes, "targets": verdicts}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    def positive(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
        return int(text)

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=positive, default=5,
                   help="length of each run; the first and last second are not counted (>= 3)")
    p.add_argument("--rounds", type=positive, default=5, help="times each case is run")
    p.add_argument("--rtt-pps", type=positive, default=10_000, help="rate of the RTT runs")
    p.add_argument("--icperf", default=str(REPO / "native/build/icperf"), help="icperf binary")
    p.add_argument("--cases", help="comma-separated subset of the cases (default: all)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the raw numbers here")
    p.add_argument("--perf", type=Path, metavar="DIR",
                   help="record a perf profile of each rate run's counted seconds into DIR")
    p.add_argument("--quiet-load", type=float, default=0.5,
                   help="1-minute load average under which the machine counts as quiet")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to this long for a quiet machine before starting")
    args = p.parse_args(argv)
    if args.seconds < 3:
        p.error(f"--seconds must be at least 3 (first and last are partial), got {args.seconds}")
    if args.perf and not args.perf.is_dir():
        p.error(f"--perf: {args.perf} is not a directory")
    if args.perf and not shutil.which("perf"):
        p.error("--perf: the perf tool is not installed (apt-get install linux-perf)")
    return args


def check_cases(args: argparse.Namespace) -> list[str]:
    known = list(cases(Bench(args.icperf, args.seconds, args.rtt_pps, Path())))
    names = args.cases.split(",") if args.cases else known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BenchError(f"--cases: unknown {unknown}; known: {known}")
    if not os.access(args.icperf, os.X_OK):
        raise BenchError(f"--icperf: {args.icperf} is not an executable (make -C native)")
    if "trafgen" in names and not shutil.which("trafgen"):
        raise BenchError("trafgen is not installed (apt-get install netsniff-ng)")
    return names


def run_all(args: argparse.Namespace, names: list[str], logdir: Path) -> dict[str, Any]:
    wait_quiet(args.quiet_load, args.wait_quiet)
    # a private copy: a rebuild of native/ during the run cannot mix two binaries
    icperf = shutil.copy(args.icperf, logdir / "icperf")
    bench = Bench(str(icperf), args.seconds, args.rtt_pps, logdir, args.perf)
    table = cases(bench)
    info: dict[str, Any] = {"command": " ".join(sys.argv), "machine": machine(args.icperf, icperf),
                            "seconds": args.seconds, "rounds": args.rounds,
                            "load_start": loadavg(), "load": []}
    print("\n".join(f"{k}: {v}" for k, v in info["machine"].items()))
    print(f"load average at start: {info['load_start']}")
    runs: list[Result] = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
    try:
        for rnd in range(1, args.rounds + 1):
            for name in names:
                run: Result = {"case": name, "round": rnd}
                bench.case = f"{name} round {rnd}"
                try:
                    with topology():
                        run |= table[name]()
                    per_cpu(run)
                except BenchError as exc:
                    run["error"] = str(exc)
                finally:
                    if bench.perf:
                        bench.perf.wait()
                        bench.perf = None
                runs.append(run)
                print(f"round {rnd} {name}: " + ", ".join(
                    f"{k}={v:,.0f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in run.items() if k not in ("case", "round")), flush=True)
            info["load"].append(loadavg())
    except KeyboardInterrupt:
        print("interrupted: topology removed, partial results follow", file=sys.stderr)
        info["interrupted"] = True
    finally:
        stop_all()
        destroy_topology()
    info["load_end"] = loadavg()
    print(f"load average after each round: {info['load']}\n")
    return info | report(runs, names) | {"runs": runs}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if os.geteuid() != 0:
            raise BenchError("must run as root (network namespaces, XDP programs)")
        names = check_cases(args)
    except BenchError as exc:
        print(f"xdp_bench: {exc}", file=sys.stderr)
        return 2
    # the same lock as socket_bench.py: both build namespaces of the same names
    with Path("/run/icpb-socket-bench.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("xdp_bench: another run holds /run/icpb-socket-bench.lock", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="icpb-") as tmp:
            info = run_all(args, names, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(info, indent=1) + "\n")
    if info.get("interrupted"):
        return 130
    return 1 if any("error" in r for r in info["runs"]) else 0


if __name__ == "__main__":
    sys.exit(main())
