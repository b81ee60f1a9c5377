#!/usr/bin/env python3
"""Rate search (MLRsearch) against a fine sweep: the answer and the trials each needs.

``sim``: a simulated device (no loss up to a knee, then the excess lost, plus seeded
noise: a trial near the knee loses a little at random), searched with
``ratesearch.next_step`` and swept at relative steps of ``--step`` from the minimum to the
maximum rate. ``lab``: ``testset.yml`` on this host, linux-bridge, a fine sweep of
``rates`` between ``--low`` and ``--high`` and a search (``search=ndr,pdr``), each under
``flock /tmp/icperf-host.lock``. A sweep's answer for a goal is the highest rate below the
first rate whose loss ratio exceeds the goal's target (a sweep read from the bottom up).

    .venv/bin/python benchmarks/ratesearch_bench.py sim --json sim.json
    .venv/bin/python benchmarks/ratesearch_bench.py lab --low 60000 --high 110000 --duration 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".venv" / "collections"))
from ansible_collections.icperf.lab.plugins.module_utils import ratesearch  # noqa: E402
from ansible_collections.icperf.lab.plugins.module_utils.searchplan import (  # noqa: E402
    trial_outcome,
)

PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
LOCK = "/tmp/icperf-host.lock"


def geometric(low: float, high: float, step: float) -> list[int]:
    """Rates from low to high (both included) at relative steps of ``step``."""
    count = math.ceil(math.log(high / low) / math.log(1.0 + step))
    rates = {round(low * (1.0 + step) ** k) for k in range(count)} | {round(high)}
    return sorted(rate for rate in rates if rate <= high)


def sweep_answer(losses: dict[int, float], target: float) -> int | None:
    """Highest rate below the first one (from the bottom) that lost more than ``target``."""
    best = None
    for rate in sorted(losses):
        if losses[rate] > target:
            break
        best = rate
    return best


def compared(found: int | None, swept: int | None) -> dict:
    """The search's and the sweep's answers, and how far the search's is from the sweep's."""
    difference = None if not (found and swept) else found / swept - 1
    return {"search": found, "sweep": swept, "difference": difference}


def search(spec: ratesearch.SearchSpec, measure: Callable[[int, int], float]) -> dict:
    trials: list[ratesearch.Trial] = []
    while not (step := ratesearch.next_step(spec, trials))["done"]:
        trial = step["trial"]
        loss = measure(trial["rate"], trial["duration"])
        trials.append(ratesearch.Trial(trial["rate"], trial["duration"], loss))
    return {"trials": len(trials), "seconds": sum(t.duration for t in trials),
            "results": step["results"]}  # fmt: skip


def simulated(knee: float, noise: float, seed: int) -> Callable[[int, int], float]:
    """Loss ratio of a device forwarding at most ``knee`` pps; near the knee (within 2 %)
    a trial loses up to ``noise`` more at random, less often the longer it runs."""
    rng = random.Random(seed)

    def measure(rate: int, duration: int) -> float:
        loss = max(0.0, (rate - knee) / rate)
        if abs(rate - knee) / knee < 0.02 and rng.random() < 0.3 / duration:
            loss += noise * rng.random()
        return min(loss, 1.0)

    return measure


def run_sim(args: argparse.Namespace) -> dict:
    cases = []
    for seed, knee in enumerate((84_000.0, 1_234_567.0, 2_950_000.0)):
        spec = ratesearch.SearchSpec(("ndr", "pdr"), 0.005, args.precision, 1, 10,
                                     10_000, 10_000_000)  # fmt: skip
        found = search(spec, simulated(knee, 0.002, seed))
        rates = geometric(spec.min_rate, spec.max_rate, args.step)
        sweep_device = simulated(knee, 0.002, seed)
        losses = {rate: sweep_device(rate, spec.duration) for rate in rates}
        # A sweep already narrowed to knee/2..2 x knee, as one would after a coarse sweep.
        narrow = len(geometric(knee / 2, knee * 2, args.step))
        case = {
            "knee": knee,
            "sweep_trials": len(rates),
            "sweep_trials_narrow": narrow,
            "search_trials": found["trials"],
            "search_seconds": found["seconds"],
            "sweep_seconds_narrow": narrow * spec.duration,
        }
        for goal, target in spec.targets().items():
            swept = sweep_answer(losses, target)
            rate = found["results"][goal]["rate"]
            case[goal] = compared(rate, swept)
        cases.append(case)
    return {"mode": "sim", "step": args.step, "precision": args.precision, "cases": cases}


def playbook(results: Path, extra: list[str]) -> None:
    argv = ["flock", LOCK, str(PLAYBOOK), "testset.yml", "-e", f"results_dir={results}",
            "-e", "vswitches=linux-bridge", "-e", "pkt_sizes=64",
            "-e", f"labs={REPO / 'labs' / '1vs1.yml'}", *extra]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stdout[-4000:], file=sys.stderr)
        raise SystemExit(f"testset.yml failed (rc {done.returncode}); results in {results}")


def run_lab(args: argparse.Namespace) -> dict:
    if os.geteuid() != 0:
        raise SystemExit("ratesearch_bench lab: needs root (containers, bridges)")
    rates = geometric(args.low, args.high, args.step)
    root = Path(args.results or tempfile.mkdtemp(prefix="icperf-search-bench-"))
    common = ["-e", f"duration={args.duration}"]
    playbook(root / "sweep", [*common, "-e", f"rates={','.join(map(str, rates))}"])
    playbook(root / "search", [*common, "-e", "provision=false", "-e", "search=ndr,pdr",
                               "-e", f"search_precision={args.precision}",
                               "-e", f"search_max_rate={args.max_rate}"])  # fmt: skip
    losses = {}
    for test_json in (root / "sweep").rglob("test.json"):
        outcome = trial_outcome(str(test_json.parent))
        rate = json.loads(test_json.read_text())["params"]["rate"]
        losses[rate] = 1.0 if outcome["loss_ratio"] is None else outcome["loss_ratio"]
    record = next((root / "search").rglob("search/*.jsonl"))
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    result = lines[-1]
    trials = [line for line in lines if line["type"] == "trial"]
    out = {"mode": "lab", "step": args.step, "precision": args.precision,
           "duration": args.duration, "sweep_trials": len(rates),
           "search_trials": result["trials"],
           "search_seconds": sum(t["duration"] for t in trials),
           "sweep_seconds": len(rates) * args.duration, "results_dir": str(root),
           "load_average": os.getloadavg(), "sweep_losses": losses}  # fmt: skip
    for goal, target in (("ndr", 0.0), ("pdr", 0.005)):
        swept = sweep_answer(losses, target)
        rate = result["results"][goal]["rate"]
        out[goal] = compared(rate, swept)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("sim", "lab"))
    parser.add_argument("--step", type=float, default=0.01, help="sweep's relative step")
    parser.add_argument("--precision", type=float, default=0.005, help="search_precision")
    parser.add_argument("--low", type=float, default=60_000, help="lab sweep's lowest rate")
    parser.add_argument("--high", type=float, default=110_000, help="lab sweep's highest rate")
    parser.add_argument("--max-rate", type=int, default=2_000_000, help="search_max_rate (lab)")
    parser.add_argument("--duration", type=int, default=2, help="full trial length (lab)")
    parser.add_argument("--results", help="results tree (lab; default a new temporary one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = run_sim(args) if args.mode == "sim" else run_lab(args)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
