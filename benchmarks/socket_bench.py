"""Packet rate and latency of icperf's socket applets next to iperf3, trafgen and sockperf.

Two network namespaces joined by a linux bridge in a third one, the topology of the native
tests, built afresh for every measurement so that no run inherits a forwarding table or queued
packets from the one before. The machine is noisy, so the cases are interleaved over rounds
(A B C .. A B C ..) and medians are reported. Run as root:

    .venv/bin/python benchmarks/socket_bench.py [--seconds 5] [--rounds 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from socket_lab import (
    IF_A,
    IF_B,
    IP_A,
    IP_B,
    MAC_A,
    MAC_B,
    NS_A,
    NS_B,
    BenchError,
    Proc,
    destroy_topology,
    loadavg,
    machine,
    stop_all,
    topology,
    veth_rx_pps,
    veth_window,
    wait_quiet,
)

REPO = Path(__file__).resolve().parent.parent
SEND_CPU, RECV_CPU = 0, 1
FLOOD_PPS = 20_000_000  # far above what one core can send: the sender never sleeps
FRAME = 64
UDP_PAYLOAD = FRAME - 42  # Ethernet + IPv4 + UDP headers
PORT = 9000  # icperf's UDP port, given explicitly because trafgen's frames must match it
RATE_MODES: dict[str, tuple[list[str], list[str]]] = {  # mode: (sender flags, receiver flags)
    "udp": ([], []),
    "udp+mmsg": (["-m"], ["-m"]),
    "raw": (["-R", IF_A], ["-R", IF_B]),
    "raw+mmsg": (["-R", IF_A, "-m"], ["-R", IF_B, "-m"]),
    "blocking": (["-B"], ["-B"]),
}

Result = dict[str, Any]


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def summary(recs: list[dict[str, Any]], what: str) -> dict[str, Any]:
    found = [r for r in recs if r.get("type") == "summary"]
    if not found:
        raise BenchError(f"{what}: no summary record (truncated run)")
    return found[-1]


def steady_rx_pps(recs: list[dict[str, Any]]) -> float:
    """rx/s over the `second` records with traffic, less the first and last (partial) ones."""
    spans, prev_t = [], 0.0
    for rec in (r for r in recs if r.get("type") == "second"):
        spans.append((int(rec["rx"]), float(rec["t"]) - prev_t))
        prev_t = float(rec["t"])
    busy = [i for i, (rx, _) in enumerate(spans) if rx > 0]
    steady = spans[busy[0] + 1:busy[-1]] if busy else []
    if not steady:
        raise BenchError(f"recv saw traffic in {len(busy)} seconds: too few to find steady ones")
    return sum(rx for rx, _ in steady) / sum(dt for _, dt in steady)


class Bench:
    def __init__(self, icperf: str, seconds: int, rtt_pps: int, logdir: Path,
                 perf_dir: Path | None = None) -> None:
        self.icperf, self.seconds, self.rtt_pps, self.logdir = icperf, seconds, rtt_pps, logdir
        self.perf_dir, self.case = perf_dir, ""
        self.perf: subprocess.Popen[bytes] | None = None

    def profile(self, length: float) -> None:
        """With --perf DIR: a system-wide cpu-clock profile (this VM has no hardware
        counters) of both CPUs over the counted window, one file per case and round."""
        if self.perf_dir is None:
            return
        out = self.perf_dir / f"{self.case.replace(' ', '_')}.data"
        self.perf = subprocess.Popen(
            ["perf", "record", "-q", "-e", "cpu-clock", "-a", "-g", "-o", str(out), "--",
             "sleep", f"{max(length, 0.5):.2f}"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def start(self, ns: str, argv: list[str], cpu: int | None = None) -> Proc:
        return Proc(self.logdir, ns, argv, cpu)

    def icperf_argv(self, applet: str, side: str, *flags: str, cpu: str = "") -> list[str]:
        ends = [IP_A, MAC_A, IP_B, MAC_B] if side == "a" else [IP_B, MAC_B, IP_A, MAC_A]
        cpu = cpu or str(SEND_CPU if side == "a" else RECV_CPU)
        return [self.icperf, applet, *ends, "-p", str(FRAME), "--port", str(PORT), "--cpu",
                cpu, "--json", *flags]

    def icperf_rate(self, mode: str) -> Result:
        return self.icperf_flood(*RATE_MODES[mode])

    def icperf_flood(self, send_flags: list[str], recv_flags: list[str]) -> Result:
        """send at full speed -> recv, each with its own flags; the receiver's steady rate."""
        recv = self.start(NS_B, self.icperf_argv("recv", "b", *recv_flags))
        recv.wait_output(r'"type": ?"start"')
        send = self.start(NS_A, self.icperf_argv(
            "send", "a", "-r", str(FLOOD_PPS), "-b", "32", "-t", str(self.seconds), *send_flags))
        started = send.wait_output(r'"type": ?"start"')
        veth, cpu = veth_window(started, self.seconds, self.profile, send.popen.pid)
        sent = summary(records(send.finish(self.seconds + 10)), "send")
        time.sleep(0.3)  # let the last queued packets reach the receiver
        recv_recs = records(recv.stop())
        summary(recv_recs, "recv")
        result = {"pps": steady_rx_pps(recv_recs), "veth_pps": veth, "sent_pps": sent["sent_pps"],
                  "sender_cpu_pct": None if cpu is None else 100 * cpu}
        start = next((r for r in recv_recs if r.get("type") == "start"), {})
        if start.get("xdp_mode"):  # -X: which XDP hook the receiver got
            result["xdp_mode"] = start["xdp_mode"]
        return result

    def iperf3(self) -> Result:
        server = self.start(NS_B, ["iperf3", "-s", "-1", "--json", "-A", str(RECV_CPU)])
        time.sleep(0.5)  # iperf3 prints nothing before the end in --json mode
        client = self.start(NS_A, ["iperf3", "-c", IP_B, "-u", "-l", str(UDP_PAYLOAD), "-b", "0",
                                   "-t", str(self.seconds), "-A", str(SEND_CPU), "--json"])
        veth = veth_rx_pps(time.monotonic(), self.seconds, self.profile)
        client.finish(self.seconds + 10)
        report = json.loads(server.finish(10))
        if "error" in report:
            raise BenchError(f"iperf3 server: {report['error']}")
        steady = [iv["sum"] for iv in report["intervals"][1:-1]]
        if not steady:
            raise BenchError("iperf3 server reported fewer than 3 intervals")
        got = sum(s["packets"] - s["lost_packets"] for s in steady)
        return {"pps": got / sum(s["seconds"] for s in steady), "veth_pps": veth}

    def trafgen(self) -> Result:
        """trafgen's frames reach a UDP socket drained by `icperf recv` like icperf's own do:
        to a port nobody listens on, every frame would cost the receiving namespace an ICMP
        route lookup on the sender's CPU. The payload is not icperf's, so the drain counts
        nothing: the receiver's veth counter is the measure."""
        drain = self.start(NS_B, self.icperf_argv("recv", "b"))
        drain.wait_output(r'"type": ?"start"')
        conf = self.logdir / "trafgen.cfg"
        conf.write_text(f"{{ eth(da={MAC_B}, sa={MAC_A}), ipv4(saddr={IP_A}, daddr={IP_B}), "
                        f"udp(sp={PORT}, dp={PORT}), fill(0x00, {UDP_PAYLOAD}) }}\n")
        # leave the host's socket memory and IRQ affinities alone
        gen = self.start(NS_A, ["trafgen", "--cpus", "1", "--no-sock-mem", "-Q", "-i", str(conf),
                                "-o", IF_A], cpu=SEND_CPU)
        started = time.monotonic()
        veth, cpu = veth_window(started, self.seconds, self.profile, gen.popen.pid)
        time.sleep(max(0.0, started + self.seconds - time.monotonic()))
        if gen.popen.poll() is not None:
            raise gen.failure(f"exited early with {gen.popen.returncode}")
        out = gen.stop()
        if gen.popen.returncode != 0:
            raise gen.failure(f"exit status {gen.popen.returncode}")
        sent = re.search(r"(\d+) packets outgoing", out + gen.err_path.read_text())
        return {"pps": veth, "veth_pps": veth, "sent": int(sent.group(1)) if sent else None,
                "sender_cpu_pct": None if cpu is None else 100 * cpu}

    def icperf_rtt(self, blocking: bool, client_flags: tuple[str, ...] = (),
                   server_flags: tuple[str, ...] = ()) -> Result:
        """Both client threads on the sender's CPU, as sockperf's one-threaded client; the
        server busy-polls the other CPU. With and without -B: a polling receiving thread
        competes for that CPU with the pacing thread."""
        server = self.start(NS_B, self.icperf_argv("server", "b", *server_flags))
        server.wait_output(r'"type": ?"start"')
        client = self.start(NS_A, self.icperf_argv(
            "client", "a", "-r", str(self.rtt_pps), "-b", "1", "-t", str(self.seconds),
            *(["-B"] if blocking else []), *client_flags, cpu=f"{SEND_CPU},{SEND_CPU}"))
        done = summary(records(client.finish(self.seconds + 10)), "client")
        server.stop()
        if not done.get("echoed"):
            raise BenchError("icperf client received no echo")
        return {"rtt_p50_ns": float(done["rtt_p50_ns"]), "echoed": done["echoed"]}

    def sockperf(self) -> Result:
        server = self.start(NS_B, ["sockperf", "sr", "-i", IP_B], cpu=RECV_CPU)
        time.sleep(0.5)
        client = self.start(NS_A, ["sockperf", "pp", "-i", IP_B, "-m", str(UDP_PAYLOAD),
                                   "--mps", str(self.rtt_pps), "-t", str(self.seconds)],
                            cpu=SEND_CPU)
        out = client.finish(self.seconds + 15)
        server.stop()
        p50 = re.search(r"percentile 50\.000 =\s*([0-9.]+)", out)
        if not p50:
            raise BenchError(f"sockperf printed no 50th percentile: {out[-400:]}")
        return {"rtt_p50_ns": 2 * 1000 * float(p50.group(1))}  # one-way usec -> round trip ns


def cases(bench: Bench) -> dict[str, Callable[[], Result]]:
    table: dict[str, Callable[[], Result]] = {
        f"icperf {mode}": (lambda m=mode: bench.icperf_rate(m)) for mode in RATE_MODES}
    table |= {"iperf3 udp": bench.iperf3, "trafgen": bench.trafgen,
              "icperf client -B": lambda: bench.icperf_rtt(True),
              "icperf client": lambda: bench.icperf_rtt(False), "sockperf pp": bench.sockperf}
    return table


RTT_CASES = ("icperf client -B", "icperf client", "sockperf pp")


def series(runs: list[Result], case: str, key: str) -> dict[int, float]:
    """round -> value of one case's successful runs."""
    return {r["round"]: r[key] for r in runs if r["case"] == case and r.get(key) is not None}


def median(values: dict[int, float]) -> float | None:
    return statistics.median(values.values()) if values else None


def shown(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def report(runs: list[Result], names: list[str]) -> dict[str, Any]:
    """Prints the table and the targets; returns both for the JSON file."""
    med = {n: {k: median(series(runs, n, k)) for k in ("pps", "veth_pps", "rtt_p50_ns")}
           for n in names}
    ok = {n: sum(1 for r in runs if r["case"] == n and "error" not in r) for n in names}
    base = med.get("iperf3 udp", {}).get("pps")
    fmt = "{:<16} {:>12} {:>9} {:>13} {:>5}"
    print(fmt.format("tool / mode", "rx pps", "x iperf3", "veth rx pps", "runs"))
    for n in (n for n in names if n not in RTT_CASES):
        pps = med[n]["pps"]
        print(fmt.format(n, shown(pps, ",.0f"), shown(base and pps and pps / base, ".2f"),
                         shown(med[n]["veth_pps"], ",.0f"), ok[n]))
    sockperf = med.get("sockperf pp", {}).get("rtt_p50_ns")
    for n in (n for n in RTT_CASES if n in names):
        rtt = med[n]["rtt_p50_ns"]
        print(f"{n:<16} p50 RTT {shown(rtt, ',.0f'):>10} ns, "
              f"{shown(sockperf and rtt and rtt / sockperf, '.2f')} x sockperf, runs {ok[n]}"
              f"{' (2 x its one-way p50)' if n == 'sockperf pp' else ''}")
    modes = [f"icperf {m}" for m in RATE_MODES if med.get(f"icperf {m}", {}).get("pps")]
    best = max(modes, key=lambda n: med[n]["pps"] or 0.0, default="icperf udp")
    targets = [  # label, numerator, denominator, bound, whether the bound is an upper one
        ("icperf udp >= 1.10 x iperf3", "icperf udp", "iperf3 udp", "pps", 1.10, False),
        ("icperf udp+mmsg >= 1.25 x iperf3", "icperf udp+mmsg", "iperf3 udp", "pps", 1.25, False),
        (f"best icperf mode ({best[7:]}) >= 1.00 x trafgen", best, "trafgen", "pps", 1.00, False),
        ("icperf client -B p50 RTT <= 1.10 x sockperf", "icperf client -B", "sockperf pp",
         "rtt_p50_ns", 1.10, True),
        ("icperf client p50 RTT <= 1.10 x sockperf", "icperf client", "sockperf pp",
         "rtt_p50_ns", 1.10, True),
    ]
    verdicts = []
    print()
    for label, num_case, den_case, key, bound, upper in targets:
        num, den = series(runs, num_case, key), series(runs, den_case, key)
        num_med, den_med = median(num), median(den)
        value = num_med / den_med if num_med is not None and den_med else None
        rounds = [num[r] / den[r] for r in sorted(num.keys() & den.keys())]
        verdict = ("n/a" if value is None
                   else "PASS" if (value <= bound if upper else value >= bound) else "MISS")
        verdicts.append({"target": label, "ratio": value, "per_round": rounds, "verdict": verdict})
        spread = f" (per round {min(rounds):.2f}..{max(rounds):.2f})" if rounds else ""
        print(f"{verdict:<4} {label}: {shown(value, '.2f')}{spread}")
    return {"medians": med, "targets": verdicts}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    def positive(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
        return int(text)

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=positive, default=5,
                   help="length of each run; the first and last second are not counted (>= 3)")
    p.add_argument("--rounds", type=positive, default=3, help="times each case is run")
    p.add_argument("--rtt-pps", type=positive, default=10_000,
                   help="rate of the ping-pong runs (icperf client, sockperf pp)")
    p.add_argument("--icperf", default=str(REPO / "native/build/icperf"), help="icperf binary")
    p.add_argument("--cases", help="comma-separated subset of the cases (default: all)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the raw numbers here")
    p.add_argument("--perf", type=Path, metavar="DIR",
                   help="record a perf profile of each rate run's counted seconds into DIR "
                        "(costs some rate: use a separate invocation)")
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
    """The cases to run, after checking that they exist and that their tools are installed."""
    known = list(cases(Bench(args.icperf, args.seconds, args.rtt_pps, Path())))
    names = args.cases.split(",") if args.cases else known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BenchError(f"--cases: unknown {unknown}; known: {known}")
    # the trafgen case drains its frames with `icperf recv`
    for tool in sorted({n.split()[0] for n in names} | ({"icperf"} & {*names, "trafgen"})):
        if tool == "icperf" and not os.access(args.icperf, os.X_OK):
            raise BenchError(f"--icperf: {args.icperf} is not an executable (make -C native)")
        if tool != "icperf" and not shutil.which(tool):
            raise BenchError(f"{tool} is not installed (apt-get install "
                             f"{'netsniff-ng' if tool == 'trafgen' else tool})")
    return names


def run_all(args: argparse.Namespace, names: list[str], logdir: Path) -> dict[str, Any]:
    wait_quiet(args.quiet_load, args.wait_quiet)
    # a private copy: a rebuild of native/ during the run cannot mix two binaries
    icperf = shutil.copy(args.icperf, logdir / "icperf")
    bench = Bench(str(icperf), args.seconds, args.rtt_pps, logdir, args.perf)
    table = cases(bench)
    info: dict[str, Any] = {"command": " ".join(sys.argv), "machine": machine(args.icperf, icperf),
                            "seconds": args.seconds, "rounds": args.rounds,
                            "rtt_pps": args.rtt_pps, "load_start": loadavg(), "load": []}
    print("\n".join(f"{k}: {v}" for k, v in info["machine"].items()))
    print(f"load average at start: {info['load_start']}")
    runs: list[Result] = []
    # also SIGINT: a shell starts background jobs with it ignored, and Python keeps that
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
                except BenchError as exc:
                    run["error"] = str(exc)
                finally:
                    if bench.perf:  # ends on its own with the counted window
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


def interrupted(signum: int, _frame: object) -> None:
    """Every stop signal takes the way out of Ctrl-C: stop the tools, remove the topology."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if os.geteuid() != 0:
            raise BenchError("must run as root (network namespaces, raw sockets)")
        names = check_cases(args)
    except BenchError as exc:
        print(f"socket_bench: {exc}", file=sys.stderr)
        return 2
    with Path("/run/icpb-socket-bench.lock").open("w") as lock:
        try:
            # a second run would tear down this one's namespaces, which carry the same names
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("socket_bench: another run holds /run/icpb-socket-bench.lock", file=sys.stderr)
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
