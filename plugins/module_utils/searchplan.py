"""Rate search as a test-set mode: its parameters, its trials as tests, its record.

A search runs every other combination of the test set (lab, switch, size, burst, flags,
switch cores) as one configuration; ratesearch.next_step picks each trial's rate and
duration, and the trial is planned by plan.plan_test like any test of a sweep, so it gets
its own folder and test.json (marked ``search_trial``), and resume and failure handling
apply to it unchanged. What the search decided after each trial goes to the search
record, ``<lab>/search/<config>.jsonl`` under the results tree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils import ratesearch
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.identity import (
    TEST_FILE,
    result_path,
    variant,
)
from ansible_collections.icperf.lab.plugins.module_utils.labspec import parse_lab
from ansible_collections.icperf.lab.plugins.module_utils.params import DEFAULT_DURATION
from ansible_collections.icperf.lab.plugins.module_utils.plan import plan_test
from ansible_collections.icperf.lab.plugins.module_utils.ratesearch import (
    GOALS,
    SearchSpec,
    trial_loss,
)

SEARCH_DIR = "search"
DEFAULTS: dict[str, Any] = {
    "pdr_loss": 0.005,  # CSIT's partial drop rate: 0.5 % loss
    "search_precision": 0.005,
    "search_min_duration": 1,
    "search_min_rate": 10_000,
    "search_max_rate": 10_000_000,
}
SEARCH_VARS = ("search", *DEFAULTS)
SENDERS = ("send", "dpdk-send")
RECEIVERS = ("recv", "dpdk-recv")


def _number(params: Mapping[str, Any], name: str, kind: type) -> Any:
    value = params.get(name)
    if value is None or value == "":
        return DEFAULTS[name]
    if not isinstance(value, bool):
        if kind is int and isinstance(value, int):
            return value
        if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if kind is float:
            try:
                return float(value)
            except (TypeError, ValueError):
                pass
    what = "a whole number" if kind is int else "a number"
    raise IcperfInputError(f"{name}: {value!r} is not {what}")


def _goals(value: object) -> tuple[str, ...]:
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise IcperfInputError(f"search: {value!r} is not ndr, pdr or ndr,pdr")
    goals = []
    for item in items:
        if item not in GOALS:
            raise IcperfInputError(f"search: {item!r} is not a search goal (ndr, pdr or ndr,pdr)")
        if item in goals:
            raise IcperfInputError(f"search: {item} appears more than once")
        goals.append(str(item))
    return tuple(goal for goal in GOALS if goal in goals)


def check_search(
    params: Mapping[str, Any], mode: str = "testset", rates_given: object = False
) -> dict[str, Any]:
    """Validate the search parameters of a run (check_test_params' output).

    Returns ``{"enabled": False}`` without ``search``, else ``{"enabled": True}`` and the
    SearchSpec's fields. ``rates_given``: the user gave rate or rates (a search picks its
    own rates). Every error names its variable.
    """
    if not isinstance(params, Mapping):
        raise IcperfInputError(f"params: {params!r} is not a mapping")
    value = params.get("search")
    if value is None or value == "" or value is False:
        stray = [name for name in DEFAULTS if params.get(name) not in (None, "")]
        if stray:
            raise IcperfInputError(f"{stray[0]}: only applies to a rate search (search=ndr,pdr)")
        return {"enabled": False}
    goals = _goals(value)
    ratesearch.require_mlrsearch()
    if mode != "testset":
        raise IcperfInputError(
            "search: run_test.yml runs one test; search with testset.yml -e search=..."
        )
    if rates_given is True or str(rates_given).lower() == "true":
        raise IcperfInputError(
            "rates: a search picks its rates itself, between search_min_rate and "
            "search_max_rate; leave rate and rates out"
        )
    pdr_loss = _number(params, "pdr_loss", float)
    if "pdr" not in goals and params.get("pdr_loss") not in (None, ""):
        raise IcperfInputError("pdr_loss: only applies to search=pdr (or ndr,pdr)")
    if not 0.0 <= pdr_loss < 1.0:
        raise IcperfInputError(f"pdr_loss: {pdr_loss} must be >= 0 and < 1 (a loss ratio)")
    precision = _number(params, "search_precision", float)
    if not 0.0 < precision < 1.0:
        raise IcperfInputError(
            f"search_precision: {precision} must be > 0 and < 1 (relative width, 0.005 = 0.5 %)"
        )
    duration = int(params.get("duration") or DEFAULT_DURATION)
    min_duration = _number(params, "search_min_duration", int)
    if not 1 <= min_duration <= duration:
        raise IcperfInputError(
            f"search_min_duration: {min_duration} must be between 1 and duration ({duration})"
        )
    min_rate = _number(params, "search_min_rate", int)
    max_rate = _number(params, "search_max_rate", int)
    if min_rate < 1:
        raise IcperfInputError(f"search_min_rate: {min_rate} must be >= 1")
    if max_rate <= min_rate:
        raise IcperfInputError(
            f"search_max_rate: {max_rate} must be above search_min_rate ({min_rate})"
        )
    spec = SearchSpec(goals, pdr_loss, precision, min_duration, duration, min_rate, max_rate)
    return {"enabled": True, **spec.as_dict()}


def config_name(plan: Mapping[str, Any]) -> str:
    """A configuration's name: its folder without rate and duration, '/' as '-'."""
    identity = {**plan["identity"], "duration": DEFAULT_DURATION}
    lab_dimension = str(plan["identity"]["dimension"])
    tag = variant(identity, lab_dimension, bool(plan["traits"]["polls"]))
    parts = [tag] if tag else []
    parts += [str(identity[key]) for key in ("burst", "vswitch", "pkt_size")]
    return "-".join(parts)


def search_configs(plans: Sequence[Mapping[str, Any]], search: Mapping[str, Any]) -> list[Any]:
    """The configurations a search runs (the plans of the first play), [] without search.

    Each gets ``search_record``, its record's path below the results tree.
    """
    if not search.get("enabled"):
        return []
    configs = []
    for plan in plans:
        if plan["identity"]["dimension"] != "throughput":
            raise IcperfInputError(
                f"search: {plan['identity']['lab']} is a {plan['identity']['dimension']} lab; "
                "a rate search measures loss, give a throughput lab"
            )
        record = f"{plan['identity']['lab']}/{SEARCH_DIR}/{config_name(plan)}.jsonl"
        configs.append({**plan, "search_record": record})
    return configs


def search_trial(
    config: Mapping[str, Any],
    step: Mapping[str, Any],
    params: Mapping[str, Any],
    labs: Mapping[str, object],
    host: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
    index: int = 1,
) -> dict[str, Any]:
    """Plan the next trial of ``config`` (``step`` of ratesearch.next_step) as a test.

    The trial is the configuration's test at the step's rate and duration, planned by
    plan_test; its test.json carries ``search_trial`` (goal, phase, index, config).
    """
    if step.get("done") or "trial" not in step:
        raise IcperfInputError(f"step: {step!r} names no trial")
    trial = step["trial"]
    identity = {**config["identity"], "rate": trial["rate"], "duration": trial["duration"]}
    lab_file = config["record"]["params"]["lab_file"]
    if lab_file not in labs:
        raise IcperfInputError(f"labs: {lab_file} was not read (read_labs)")
    own = parse_lab(labs[lab_file]).dimension
    test = {
        **{key: identity[key] for key in ("vswitch", "pkt_size", "burst", "rate", "pairs",
                                          "dimension", "switch_cores")},
        "lab": lab_file, "lab_name": identity["lab"], "identity": identity,
        "path": result_path(identity, own, bool(config["traits"]["polls"])),
        "index": config.get("index"), "total": config.get("total"),
    }  # fmt: skip
    planned = plan_test(test, params, labs[lab_file], host, settings)
    planned["record"]["search_trial"] = {
        "goal": ",".join(trial["goals"]),
        "phase": trial["phase"],
        "index": int(index),
        "config": config_name(config),
        "intended_duration": trial["intended_duration"],
    }
    return planned


def _summary(path: str) -> dict[str, Any] | None:
    """The summary record of an applet's log, None when it has none."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if '"summary"' not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("type") == "summary":
                    return record
    except OSError:
        return None
    return None


def trial_outcome(test_dir: str) -> dict[str, Any]:
    """How a trial ended: test.json's status and reason, and its loss (ratesearch.trial_loss)."""
    try:
        with open(os.path.join(test_dir, TEST_FILE), encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as error:
        return {"status": "failed", "reason": f"{TEST_FILE}: {error}", "loss_ratio": None}
    if doc.get("status") != "ok":
        return {"status": "failed", "reason": doc.get("reason"), "loss_ratio": None}
    senders, receivers, missing = [], [], []
    for app in doc.get("apps") or []:
        if app.get("app") not in SENDERS + RECEIVERS:
            continue
        summary = _summary(os.path.join(test_dir, str(app.get("log"))))
        if summary is None:
            missing.append(str(app.get("log")))
        elif app["app"] in SENDERS:
            senders.append(summary)
        else:
            receivers.append(summary)
    if missing or not senders or not receivers:
        reason = f"no summary record in {', '.join(missing)}" if missing else "no sender/receiver"
        return {"status": "failed", "reason": reason, "loss_ratio": None}
    params = doc["params"]
    loss = trial_loss(senders, receivers, int(params["rate"]), int(params["duration"]))
    return {"status": "ok", "reason": None, **loss}
