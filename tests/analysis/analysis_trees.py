"""Writers of small icperf results trees (test.json + JSON-lines logs per docs/records.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from icperf_analysis.aggregate import Aggregates, Window, aggregate
from icperf_analysis.load import Dataset, load_results

T0 = 1795900000.0
HOST = {"hostname": "lab1", "kernel": "6.1.0-27-amd64", "cmdline": "quiet isolcpus=1",
        "cpu_model": "AMD EPYC 7B13", "cores": 2, "governor": "performance"}
VERSIONS = {"icperf": "0.1.0", "lxc": "5.0.2", "dpdk": "22.11.5", "ovs": None}


def params(**overrides: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "dimension": "throughput", "hosts": "local", "pairs": 1,
        "vswitch": "linux-bridge", "pkt_size": 64, "rate": 1000000, "burst": 32,
        "duration": 12, "raw": False, "blocking": False, "consume": False, "multi": False,
        "switch_cores": 1,
    }
    p.update(overrides)
    p.setdefault("lab", f"{p['pairs']}vs{p['pairs']}")
    return p


def log_text(app: str, seconds: list[dict[str, Any]], summary: bool = True,
             buckets: list[list[int]] | None = None, version: int = 1) -> str:
    """A log as an applet writes it: start, seconds, summary (and hist for clients)."""
    records: list[dict[str, Any]] = [{"v": version, "type": "start", "app": app, "ts": T0}]
    for i, counters in enumerate(seconds, 1):
        records.append({"v": version, "type": "second", "app": app, "sec": i, "t": float(i),
                        "ts": T0 + i, **counters})
    if summary:
        totals = {k: sum(s[k] for s in seconds) for k in seconds[0] if not k.startswith("rtt")}
        records.append({"v": version, "type": "summary", "app": app, "seconds": len(seconds),
                        "elapsed": float(len(seconds)), **totals, "reason": "duration"})
    if buckets is not None:
        records.append({"v": version, "type": "hist", "app": app, "unit": "ns",
                        "buckets": buckets})
    return "".join(json.dumps(r) + "\n" for r in records)


def write_test(folder: Path, p: dict[str, Any], apps: list[tuple[str, str, str | None]],
               status: str = "ok", reason: str | None = None, version: int = 1,
               shared_cores: bool | None = None, settings: dict[str, Any] | None = None,
               line_rate_bps: float | None = None) -> Path:
    """A test folder; apps are (container, app, log text or None for a missing log).

    shared_cores, settings and line_rate_bps are left out of test.json when None, as in older
    trees.
    """
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (container, app, text) in enumerate(apps):
        log = f"{container}.{app}.jsonl"
        peer = apps[i + 1 if i % 2 == 0 else i - 1][0]
        entry = {"container": container, "app": app, "peer": peer, "host": "localhost",
                 "log": log}
        if shared_cores is not None:
            entry |= {"cpus": [1], "shared_cores": shared_cores}
        entries.append(entry)
        if text is not None:
            (folder / log).write_text(text)
    doc = {"v": version, "id": folder.name + ":" + "/".join(
               str(p[k]) for k in ("lab", "burst", "vswitch", "pkt_size", "rate")),
           "params": p, "start": "2026-11-27T21:00:00Z", "end": "2026-11-27T21:00:13Z",
           "status": status, "reason": reason, "host": HOST, "versions": VERSIONS,
           "apps": entries}
    if settings is not None:
        doc["settings"] = settings
    if line_rate_bps is not None:
        doc["line_rate_bps"] = line_rate_bps
    (folder / "test.json").write_text(json.dumps(doc, indent=1))
    return folder


def throughput_test(root: Path, rx: list[float], sent: float | None = None,
                    seconds: int = 12, folder: str | None = None,
                    shared_cores: bool | None = None, settings: dict[str, Any] | None = None,
                    line_rate_bps: float | None = None, **overrides: Any) -> Path:
    """One sender/receiver pair per entry of `rx`, each receiving rx[i] packets every second.

    `folder` (relative to root) replaces the default folder name, e.g. to lay out a tree as
    the playbooks do.
    """
    p = params(pairs=len(rx), **overrides)
    sent = p["rate"] if sent is None else sent
    apps: list[tuple[str, str, str | None]] = []
    for i, rate in enumerate(rx):
        tx = [{"attempted": p["rate"], "sent": sent, "dropped": p["rate"] - sent}] * seconds
        rcv = [{"rx": rate, "lost": 0, "reordered": 0, "duplicated": 0}] * seconds
        apps += [(f"icp{2 * i}", "send", log_text("send", tx)),
                 (f"icp{2 * i + 1}", "recv", log_text("recv", rcv))]
    name = f"{p['hosts']}-{p['lab']}-{p['burst']}-{p['vswitch']}-{p['pkt_size']}-{p['rate']}"
    return write_test(root / (folder or name), p, apps, shared_cores=shared_cores,
                      settings=settings, line_rate_bps=line_rate_bps)


def latency_test(root: Path, buckets: list[list[int]], rtt_mean_ns: int,
                 seconds: int = 12, folder: str | None = None,
                 shared_cores: bool | None = None, **overrides: Any) -> Path:
    """One client/server pair echoing 1000 packets a second."""
    p = params(dimension="latency", rate=1000, **overrides)
    cli = [{"attempted": 1000, "sent": 1000, "dropped": 0, "echoed": 1000,
            "rtt_min_ns": rtt_mean_ns, "rtt_mean_ns": rtt_mean_ns, "rtt_max_ns": rtt_mean_ns,
            "rtt_p50_ns": rtt_mean_ns, "rtt_p90_ns": rtt_mean_ns, "rtt_p99_ns": rtt_mean_ns,
            "rtt_p999_ns": rtt_mean_ns}] * seconds
    srv = [{"rx": 1000, "tx": 1000}] * seconds
    apps: list[tuple[str, str, str | None]] = [
        ("icp0", "client", log_text("client", cli, buckets=buckets)),
        ("icp1", "server", log_text("server", srv)),
    ]
    name = f"lat-{p['hosts']}-{p['burst']}-{p['vswitch']}-{p['pkt_size']}"
    return write_test(root / (folder or name), p, apps, shared_cores=shared_cores)


def analyse(root: Path, warmup: int = 5, cooldown: int = 5) -> tuple[Dataset, Aggregates]:
    dataset = load_results(root)
    return dataset, aggregate(dataset, Window(warmup, cooldown))
