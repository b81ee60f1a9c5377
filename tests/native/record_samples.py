"""Regenerates tests/data/records/ from real runs in a namespace topology (needs root).

    sudo .venv/bin/python tests/native/record_samples.py

Each sample is one applet's standard output; README.md there lists the command lines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import icperf_netns
from icperf_run import ICPERF, NATIVE, ROOT, Applet, endpoints

OUT = ROOT / "tests" / "data" / "records"
PREFIX = "icpns"

# (receiving side's file, its args, sending side's file, its args, receiver ends by)
PAIRS = [
    (
        "recv.jsonl",
        ["recv", "--json", "-t", "7"],
        "send.jsonl",
        ["send", "--json", "-r", "20000", "-b", "32", "-p", "64", "-t", "5"],
        "duration",
    ),
    (
        "recv.txt",
        ["recv", "-m", "-t", "7"],
        "send.txt",
        ["send", "-m", "-r", "20000", "-b", "32", "-p", "128", "-t", "5"],
        "duration",
    ),
    (
        "server.jsonl",
        ["server", "--json"],
        "client.jsonl",
        ["client", "--json", "-r", "10000", "-b", "16", "-p", "64", "-t", "5"],
        "SIGTERM",
    ),
    (
        "server.txt",
        ["server", "-R", "eth0"],
        "client.txt",
        ["client", "-R", "eth0", "-r", "10000", "-b", "16", "-p", "64", "-t", "5"],
        "SIGINT",
    ),
]


def command_line(
    ns: str, args: list[str], here: icperf_netns.Host, there: icperf_netns.Host
) -> str:
    applet, *flags = args
    return " ".join(["ip netns exec", ns, "icperf", applet, *endpoints(here, there), *flags])


def record_pair(topo: icperf_netns.Topology, pair: tuple) -> list[str]:
    rx_file, rx_args, tx_file, tx_args, rx_end = pair
    rx_argv = [rx_args[0], *endpoints(topo.b, topo.a), *rx_args[1:]]
    tx_argv = [tx_args[0], *endpoints(topo.a, topo.b), *tx_args[1:]]
    receiver = Applet(topo.b.ns, rx_argv)
    try:
        receiver.wait_started()
        sender = Applet(topo.a.ns, tx_argv).finish(timeout=30)
        if rx_end != "duration":
            time.sleep(0.5)
            receiver.send_signal(getattr(signal, rx_end))
        received = receiver.finish(timeout=30)
    finally:
        receiver.kill()
    for name, done in ((tx_file, sender), (rx_file, received)):
        if done.returncode != 0:
            raise SystemExit(f"{name}: exit {done.returncode}: {done.stderr}")
        (OUT / name).write_text(done.stdout)
    ends = "" if rx_end == "duration" else f"  # then kill -{rx_end[3:]} after the client"
    return [
        f"    {command_line(topo.b.ns, rx_args, topo.b, topo.a)} > {rx_file} &{ends}",
        f"    {command_line(topo.a.ns, tx_args, topo.a, topo.b)} > {tx_file}",
    ]


README_HEAD = """# Sample records

Standard output of real runs of the `icperf` applets (native/), written by
`tests/native/record_samples.py` in two network namespaces joined by a linux bridge
(`{ns}-a` = 10.77.0.1, `{ns}-b` = 10.77.0.2). The format is docs/records.md; the tests
of native/ (`tests/native/test_native_record_samples.py`) and of the analysis package read
these same files. Regenerate them (as root) with `.venv/bin/python
tests/native/record_samples.py`.

`*.jsonl` are the JSON-lines form (`--json`), `*.txt` the text form. The receiving side was
started first, in the background; it ends either by its own `-t` or, where noted, by a
signal after the sender has finished (its summary then says `"reason": "signal"`).

Command lines (the machine: {cpus} CPUs, kernel {kernel}, clock `{clock}`):

"""


def main() -> int:
    if os.geteuid() != 0:
        print("record_samples.py: needs root (network namespaces)", file=sys.stderr)
        return 1
    subprocess.run(["make", "-C", str(NATIVE)], check=True, capture_output=True)
    OUT.mkdir(parents=True, exist_ok=True)
    topo = icperf_netns.create(PREFIX)
    try:
        lines: list[str] = []
        for pair in PAIRS:
            lines += [*record_pair(topo, pair), ""]
    finally:
        icperf_netns.destroy(PREFIX)
    first = (OUT / "send.jsonl").read_text().splitlines()[0]
    clock = "tsc" if '"clock":"tsc"' in first else "monotonic_raw"
    head = README_HEAD.format(
        ns=PREFIX, cpus=os.cpu_count(), kernel=os.uname().release, clock=clock
    )
    (OUT / "README.md").write_text(head + "\n".join(lines).rstrip() + "\n")
    print(f"wrote {len(PAIRS) * 2} samples to {OUT} with {ICPERF}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
