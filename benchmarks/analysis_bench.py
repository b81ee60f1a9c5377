"""Speed and memory of icperf-analyze on a synthetic tree of one million per-second records.

    .venv/bin/python benchmarks/analysis_bench.py [--records 1000000] [--full]

(from the repository's root; the script finds the analysis package from its own location,
so it also runs from any other directory.)

Writes a sweep of throughput tests (5 vswitches x 5 packet sizes x 2 bursts x rates, one
sender/receiver pair each) in JSON lines as the applets write them, then times the summarise
step (loading + aggregation) in a fresh child process and reports its wall and CPU time and
the child's peak RSS (ru_maxrss, which counts Arrow's buffers too: tracemalloc does not see
them). With --full the child also times the CSV tables, the figures and the HTML report,
which are reported separately.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# The checkout this file is in: its analysis package is what is measured, installed or not.
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "analysis"))

from icperf_analysis.aggregate import Window, aggregate  # noqa: E402
from icperf_analysis.load import load_results  # noqa: E402

VSWITCHES = ("linux-bridge", "basicfwd", "ovs", "vpp", "sriov")
PKT_SIZES = (64, 128, 512, 1024, 1500)
BURSTS = (32, 256)
T0 = 1795900000.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def sweep(tests: int) -> Iterator[tuple[str, int, int, int]]:
    rates_per_group = max(1, -(-tests // (len(VSWITCHES) * len(PKT_SIZES) * len(BURSTS))))
    n = 0
    for burst in BURSTS:
        for vswitch in VSWITCHES:
            for pkt in PKT_SIZES:
                for r in range(1, rates_per_group + 1):
                    if n == tests:
                        return
                    n += 1
                    yield vswitch, pkt, burst, r * 1_000_000


def _start(app: str, rate: int, pkt: int, burst: int, seconds: int) -> str:
    return json.dumps({
        "v": 1, "type": "start", "app": app, "transport": "dpdk", "local_ip": "10.0.0.1",
        "local_mac": "02:00:00:00:00:01", "remote_ip": "10.0.0.2",
        "remote_mac": "02:00:00:00:00:02", "port": 9000, "rate": rate, "pkt_size": pkt,
        "burst": burst, "blocking": False, "mmsg": False, "consume": False, "deferred": False,
        "iface": None, "cpu": 1, "duration": seconds, "clock": "tsc", "tsc_hz": 2400000000,
        "ts": T0}, separators=(",", ":"))


def write_test(folder: Path, vswitch: str, pkt: int, burst: int, rate: int, seconds: int) -> None:
    folder.mkdir(parents=True)
    cap = int(1_500_000 * (VSWITCHES.index(vswitch) + 1) * (64 / pkt) ** 0.5)
    rx_rate = min(rate, cap)
    send = [_start("dpdk-send", rate, pkt, burst, seconds)]
    recv = [_start("dpdk-recv", rate, pkt, burst, seconds)]
    for s in range(1, seconds + 1):
        jitter = (s * 7919) % 2001 - 1000
        t = f"{s + 0.000123:.6f}"
        ts = f"{T0 + s + 0.000123:.6f}"
        send.append(f'{{"v":1,"type":"second","app":"dpdk-send","sec":{s},"t":{t},"ts":{ts},'
                    f'"attempted":{rate},"sent":{rate + jitter},"dropped":{-jitter}}}'
                    if jitter < 0 else
                    f'{{"v":1,"type":"second","app":"dpdk-send","sec":{s},"t":{t},"ts":{ts},'
                    f'"attempted":{rate},"sent":{rate},"dropped":0}}')
        recv.append(f'{{"v":1,"type":"second","app":"dpdk-recv","sec":{s},"t":{t},"ts":{ts},'
                    f'"rx":{rx_rate + jitter},"lost":{max(0, rate - rx_rate)},'
                    f'"reordered":0,"duplicated":0}}')
    send.append(f'{{"v":1,"type":"summary","app":"dpdk-send","seconds":{seconds},'
                f'"elapsed":{seconds}.0,"attempted":{rate * seconds},"sent":{rate * seconds},'
                f'"dropped":0,"offered_pps":{rate}.0,"sent_pps":{rate}.0,"reason":"duration"}}')
    recv.append(f'{{"v":1,"type":"summary","app":"dpdk-recv","seconds":{seconds},'
                f'"elapsed":{seconds}.0,"rx":{rx_rate * seconds},"lost":0,"reordered":0,'
                f'"duplicated":0,"rx_pps":{rx_rate}.0,"reason":"duration"}}')
    (folder / "icp0.send.jsonl").write_text("\n".join(send) + "\n")
    (folder / "icp1.recv.jsonl").write_text("\n".join(recv) + "\n")
    test = {
        "v": 1, "id": f"{burst}/{vswitch}/{pkt}/{rate}",
        "params": {"dimension": "throughput", "hosts": "local", "pairs": 1, "lab": "1vs1",
                   "vswitch": vswitch, "pkt_size": pkt, "rate": rate, "burst": burst,
                   "duration": seconds, "raw": False, "blocking": False, "consume": False,
                   "multi": False, "switch_cores": 1},
        "start": "2026-11-27T21:00:00Z", "end": "2026-11-27T21:09:00Z", "status": "ok",
        "reason": None,
        "host": {"hostname": "bench", "kernel": "6.1.0-27-amd64", "cmdline": "quiet",
                 "cpu_model": "synthetic", "cores": 2, "governor": "performance"},
        "versions": {"icperf": "0.1.0", "lxc": "5.0.2", "dpdk": "22.11", "ovs": None},
        "apps": [{"container": "icp0", "app": "dpdk-send", "peer": "icp1", "host": "localhost",
                  "log": "icp0.send.jsonl"},
                 {"container": "icp1", "app": "dpdk-recv", "peer": "icp0", "host": "localhost",
                  "log": "icp1.recv.jsonl"}],
    }
    (folder / "test.json").write_text(json.dumps(test, indent=1))


def generate(root: Path, records: int, seconds: int) -> int:
    tests = max(1, records // (2 * seconds))
    for vswitch, pkt, burst, rate in sweep(tests):
        write_test(root / str(burst) / vswitch / str(pkt) / str(rate), vswitch, pkt, burst, rate,
                   seconds)
    return tests


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarise(results: Path, full: bool) -> None:
    """The measured step, run in the child: what it prints is the benchmark's result."""
    started, cpu = time.perf_counter(), _cpu()
    dataset = load_results(results)
    loaded, cpu_loaded = time.perf_counter(), _cpu()
    aggregates = aggregate(dataset, Window())
    done, cpu_done = time.perf_counter(), _cpu()
    print(f"summarise: load {loaded - started:.2f} s + aggregate {done - loaded:.2f} s "
          f"= {done - started:.2f} s wall, {cpu_done - cpu:.2f} s CPU (load "
          f"{cpu_loaded - cpu:.2f}); peak RSS {peak_rss_mib():.0f} MiB "
          f"({len(dataset.seconds)} rows, {len(aggregates.summary)} tests)", flush=True)
    if full:
        # Imported only now: matplotlib is no part of the summary, and its 30 MiB would be
        # counted in the summary's peak.
        from icperf_analysis.cli import Analysis, draw, write_tables
        from icperf_analysis.report import write as write_report

        out = results.parent / "report"
        out.mkdir(exist_ok=True)
        analysis = Analysis(dataset, aggregates, None)
        for name, step in (("tables", lambda: write_tables(analysis, out)),
                           ("figures", lambda: draw(analysis, out, 10e9)),
                           ("report", lambda: write_report(out / "report.html", dataset,
                                                           aggregates, analysis.figures,
                                                           Window()))):
            started = time.perf_counter()
            step()
            print(f"{name}: {time.perf_counter() - started:.2f} s; "
                  f"peak RSS {peak_rss_mib():.0f} MiB", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000, help="per-second records in all")
    p.add_argument("--seconds", type=int, default=500, help="seconds per app log")
    p.add_argument("--full", action="store_true", help="also time tables, figures, report")
    p.add_argument("--keep", type=Path, help="write the tree here and keep it")
    p.add_argument("--summarise", type=Path, metavar="RESULTS", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.summarise is not None:
        summarise(args.summarise, args.full)
        return

    root = args.keep or Path(tempfile.mkdtemp(prefix="icperf-bench-"))
    try:
        started = time.perf_counter()
        tests = generate(root / "results", args.records, args.seconds)
        size = sum(f.stat().st_size for f in (root / "results").rglob("*.jsonl"))
        print(f"generated {tests} tests, {tests * 2 * args.seconds} per-second records, "
              f"{size / 2**20:.0f} MiB of logs in {time.perf_counter() - started:.1f} s",
              flush=True)
        # A child of its own: its peak RSS is the summary's, not the generator's, and it
        # starts with a cold interpreter as the command line does.
        child = [sys.executable, str(Path(__file__).resolve()), "--summarise",
                 str(root / "results"), *(["--full"] if args.full else [])]
        subprocess.run(child, check=True)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"child process: peak RSS {children.ru_maxrss / 1024:.0f} MiB, "
              f"CPU {children.ru_utime + children.ru_stime:.2f} s (imports included)")
    finally:
        if args.keep is None:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
