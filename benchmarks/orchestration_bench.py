#!/usr/bin/env python3
"""Per-test orchestration overhead of a test set: wall time of each test minus its duration.

Runs ``testset.yml`` on this host with linux-bridge (or the switches given) over a sweep of
N rates, with provisioning done beforehand and left out of the measurement, and reads each
test's span from the progress callback's lines (one per test start) and the playbook's end.
The overhead of a test is that span minus the test's duration: tuning, the switch, the
containers' start and stop, log collection, restore and test.json.

    .venv/bin/python benchmarks/orchestration_bench.py --tests 10 --duration 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
TEST_LINE = re.compile(r"^icperf: test (\d+)/(\d+) ")


def run_set(results: Path, vswitches: str, tests: int, duration: int) -> list[float]:
    """Seconds between successive test starts (the last one: to the playbook's end)."""
    rates = ",".join(str(10000 + 1000 * step) for step in range(tests))
    argv = [
        str(PLAYBOOK), "testset.yml", "-e", f"results_dir={results}", "-e", "provision=false",
        "-e", f"vswitches={vswitches}", "-e", f"rates={rates}", "-e", "pkt_sizes=64",
        "-e", f"duration={duration}", "-e", f"labs={REPO / 'labs' / '1vs1.yml'}",
    ]  # fmt: skip
    starts: list[float] = []
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        if TEST_LINE.match(line):
            starts.append(time.monotonic())
    end = time.monotonic()
    if proc.wait() != 0:
        raise SystemExit(f"testset.yml failed (rc {proc.returncode}); results in {results}")
    return [later - earlier for earlier, later in zip(starts, [*starts[1:], end], strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=10, help="tests in the set (default 10)")
    parser.add_argument("--duration", type=int, default=3, help="seconds per test (default 3)")
    parser.add_argument("--vswitches", default="linux-bridge", help="switches (comma list)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("orchestration_bench: needs root (containers, bridges)", file=sys.stderr)
        return 2
    provision = subprocess.run(
        [str(PLAYBOOK), "provision.yml", "-e", f"vswitches={args.vswitches}"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if provision.returncode != 0:
        print(provision.stdout[-3000:], file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="icperf-orch-") as tmp:
        spans = run_set(Path(tmp) / "results", args.vswitches, args.tests, args.duration)
    # The last span includes the summary tasks after the last test: left out of the median.
    overheads = [span - args.duration for span in spans]
    figures = {
        "tests": len(spans),
        "duration": args.duration,
        "vswitches": args.vswitches,
        "overhead_median_s": round(statistics.median(overheads[:-1] or overheads), 2),
        "overhead_max_s": round(max(overheads[:-1] or overheads), 2),
        "overhead_each_s": [round(value, 2) for value in overheads],
        "load_average": os.getloadavg(),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
