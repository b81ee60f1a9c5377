"""A test's identity, its results folder, and which earlier results a run may reuse.

Every parameter that changes what is measured is part of a test's identity (IDENTITY_KEYS).
The folder keeps the thesis' tree as its readable part and adds the rest in front of it:

    <lab>/[<variant>/]<burst>/<vswitch>/<pkt_size>/<rate>

``<variant>`` holds what differs from the defaults, as tokens joined by ``-``: ``c<N>`` (the
cores of a polling switch), a dimension other than the lab's own, the flags that are on, and
``d<S>`` for a duration other than DEFAULT_DURATION. Tokens start with a letter, so a variant
is never taken for a burst size. The folder is only an address: resume compares the
parameters recorded in test.json with the planned ones, never the path alone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.params import DEFAULT_DURATION, FLAGS

TEST_FILE = "test.json"
IDENTITY_KEYS = (
    "dimension", "hosts", "pairs", "lab", "lab_sha256", "vswitch", "pkt_size", "rate",
    "burst", "duration", *FLAGS, "switch_cores",
)  # fmt: skip
# What an older test.json means when it lacks a key.
_RECORD_DEFAULTS: dict[str, object] = {
    "hosts": "local",
    "duration": DEFAULT_DURATION,
    "switch_cores": 0,
    **{flag: False for flag in FLAGS},
}


def lab_digest(content: object) -> str:
    """sha256 of a lab's content (not its bytes: comments and layout change nothing)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def variant(identity: Mapping[str, Any], lab_dimension: str, polls: bool) -> str:
    """The variant tokens of a test, "" when everything is at its default."""
    tokens = [f"c{identity['switch_cores']}"] if polls else []
    if identity["dimension"] != lab_dimension:
        tokens.append(str(identity["dimension"]))
    tokens += [flag for flag in FLAGS if identity[flag]]
    if identity["duration"] != DEFAULT_DURATION:
        tokens.append(f"d{identity['duration']}")
    return "-".join(tokens)


def result_path(identity: Mapping[str, Any], lab_dimension: str, polls: bool) -> str:
    """Results folder of a test, relative to the results tree."""
    parts = [str(identity["lab"])]
    tag = variant(identity, lab_dimension, polls)
    if tag:
        parts.append(tag)
    parts += [str(identity[key]) for key in ("burst", "vswitch", "pkt_size", "rate")]
    return "/".join(parts)


def record_identity(params: Mapping[str, Any]) -> dict[str, Any]:
    """Identity of a recorded test (test.json's params), older records' gaps filled in."""
    result = {key: params.get(key, _RECORD_DEFAULTS.get(key)) for key in IDENTITY_KEYS}
    for key in ("pairs", "pkt_size", "rate", "burst", "duration", "switch_cores"):
        if isinstance(result[key], str) and result[key].strip().isdigit():
            result[key] = int(result[key])
    for flag in FLAGS:
        if isinstance(result[flag], str):
            result[flag] = result[flag].strip().lower() in ("true", "yes", "1", "on")
    return result


def differences(planned: Mapping[str, Any], recorded: Mapping[str, Any]) -> list[str]:
    """``key=recorded (planned: value)`` for each identity key on which the two differ.

    A record without ``lab_sha256`` predates it: the lab's content is then not compared.
    """
    have = record_identity(recorded)
    diff = []
    for key in IDENTITY_KEYS:
        if key == "lab_sha256" and have[key] is None:
            continue
        if have[key] != planned.get(key):
            diff.append(f"{key}={have[key]} (planned: {planned.get(key)})")
    return diff


def _read_record(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def resume_plan(
    tests: Iterable[Mapping[str, Any]], results_dir: str, force: object = False
) -> dict[str, Any]:
    """Decide, for each planned test, from what its folder already holds.

    Returns ``to_run`` (the tests to run, each with ``replace``: "" for an empty folder,
    "rerun" for a folder whose record has the same identity and is rerun (failed, or
    ``force``), "aside" for a record of another test moved aside under ``force`` to ``aside``,
    a sibling folder that keeps it), ``done``
    (paths whose record says ok with the same identity) and ``conflicts`` (one message per
    folder holding another test's result, when not ``force``: the run must stop).
    """
    if not isinstance(results_dir, str) or not results_dir.startswith("/"):
        raise IcperfInputError(f"results_dir: {results_dir!r} is not an absolute path")
    forced = force if isinstance(force, bool) else str(force).lower() in ("true", "yes", "1")
    to_run: list[dict[str, Any]] = []
    done: list[str] = []
    conflicts: list[str] = []
    for test in tests:
        record = _read_record(os.path.join(results_dir, str(test["path"]), TEST_FILE))
        if record is None:
            to_run.append({**test, "replace": ""})
            continue
        diff = differences(test["identity"], record.get("params") or {})
        if not diff:
            if record.get("status") == "ok" and not forced:
                done.append(str(test["path"]))
            else:
                to_run.append({**test, "replace": "rerun"})
        elif forced:
            stamp = str(record.get("end") or "unfinished").replace(":", "")
            to_run.append({**test, "replace": "aside", "aside": f"{test['path']}.replaced-{stamp}"})
        else:
            conflicts.append(
                f"{test['path']}: holds a result of another test ({', '.join(diff)}); "
                "move it away or pass force=true to move it aside"
            )
    return {"to_run": to_run, "done": done, "conflicts": conflicts}
