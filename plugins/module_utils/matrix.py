"""The test matrix of a test set: every test, its identity and its results folder."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.identity import (
    lab_digest,
    result_path,
)
from ansible_collections.icperf.lab.plugins.module_utils.labspec import (
    check_remote,
    is_remote,
    load_lab_file,
    parse_lab,
    place_hosts,
)
from ansible_collections.icperf.lab.plugins.module_utils.params import (
    FLAGS,
    parse_test_params,
)
from ansible_collections.icperf.lab.plugins.module_utils.vswitches import traits

SET_KEYS = (
    "vswitches", "pkt_sizes", "bursts", "rates", "labs", "switch_cores", "duration",
    "dimension", *FLAGS,
)  # fmt: skip


def lab_name(path: str) -> str:
    """Name of a lab: its file name without .yml/.yaml."""
    base = os.path.basename(path)
    for suffix in (".yml", ".yaml"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def read_labs(paths: object) -> dict[str, object]:
    """Read each lab file once: {path: content}, every lab validated, names unique."""
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, Sequence) or not paths:
        raise IcperfInputError("labs: missing, give at least one lab file")
    labs: dict[str, object] = {}
    names: dict[str, int] = {}
    for position, path in enumerate(paths):
        if not isinstance(path, str):
            raise IcperfInputError(f"labs[{position}]: {path!r} is not a lab file path")
        try:
            content = load_lab_file(path)
            parse_lab(content)
        except IcperfInputError as error:
            raise IcperfInputError(f"labs[{position}] ({path}): {error}") from None
        name = lab_name(path)
        if name in names:
            raise IcperfInputError(
                f"labs: labs[{names[name]}] and labs[{position}] are both named {name!r}, "
                "and a lab's name is part of its results' folder; rename one"
            )
        names[name] = position
        labs[path] = content
    return labs


def test_matrix(
    params: Mapping[str, Any],
    labs: Mapping[str, object] | None = None,
    lab_hosts: Sequence[str] | None = None,
) -> list[dict[str, object]]:
    """Every test of a test set, in the order of the cartesian product of its values.

    ``params`` are the test set's parameters (as check_test_params returns them); ``labs``
    the lab files' contents by path (read_labs; read here when not given). The product runs
    over vswitches, pkt_sizes, bursts, rates, labs, switch_cores (the last varies fastest).
    Switches that poll no cores of their own get switch_cores 0 and appear once however
    many switch_cores values are swept. Each test carries its ``identity`` (every parameter
    that changes what is measured, see identity.py) and its results folder ``path``.

    ``lab_hosts`` are the inventory hosts of the run (the play's hosts, in order): each
    container is placed on one (its ``host``, else the first); a lab whose containers talk
    across hosts is remote, and is refused with one lab host or a switch that cannot span
    hosts.
    """
    if not isinstance(params, Mapping):
        raise IcperfInputError(f"params: {params!r} is not a mapping")
    # The normalised lists; check_test_params also mirrors one-valued lists in singulars.
    parsed = parse_test_params(
        {key: params[key] for key in SET_KEYS if params.get(key) is not None}
    )
    if not parsed.labs:
        raise IcperfInputError("labs: missing, give at least one lab file")
    contents = dict(labs) if labs is not None else read_labs(parsed.labs)
    lab_facts = []
    for position, path in enumerate(parsed.labs):
        if path not in contents:
            raise IcperfInputError(f"labs[{position}]: {path} was not read (read_labs)")
        content = contents[path]
        try:
            own = parse_lab(content)
            lab = parse_lab(content, parsed.dimension)
            if lab_hosts is None:
                remote = is_remote(lab, place_hosts(lab))
            else:
                remote = check_remote(lab, list(lab_hosts))
        except IcperfInputError as error:
            raise IcperfInputError(f"labs[{position}] ({path}): {error}") from None
        lab_facts.append({
            "lab": path, "lab_name": lab_name(path), "pairs": lab.pairs,
            "dimension": lab.dimension, "own_dimension": own.dimension,
            "lab_sha256": lab_digest(content),
            "hosts": "remote" if remote else "local",
        })  # fmt: skip

    tests: list[dict[str, object]] = []
    seen: set[str] = set()
    for vswitch, pkt_size, burst, rate, facts, cores in itertools.product(
        parsed.vswitches,
        parsed.pkt_sizes,
        parsed.bursts,
        parsed.rates,
        lab_facts,
        parsed.switch_cores,
    ):
        row = traits(vswitch)
        if facts["hosts"] == "remote" and row.no_remote:
            raise IcperfInputError(
                f"vswitch: {vswitch} cannot join containers on two hosts, which "
                f"{facts['lab']} asks for: {row.no_remote}"
            )
        identity: dict[str, Any] = {
            "dimension": facts["dimension"],
            "hosts": facts["hosts"],
            "pairs": facts["pairs"],
            "lab": facts["lab_name"],
            "lab_sha256": facts["lab_sha256"],
            "vswitch": vswitch,
            "pkt_size": pkt_size,
            "rate": rate,
            "burst": burst,
            "duration": parsed.duration,
            **{flag: parsed.flags[flag] for flag in FLAGS},
            "switch_cores": cores if row.polls else 0,
        }
        path = result_path(identity, str(facts["own_dimension"]), row.polls)
        if path in seen:
            continue
        seen.add(path)
        tests.append({
            "vswitch": vswitch,
            "pkt_size": pkt_size,
            "burst": burst,
            "rate": rate,
            "lab": facts["lab"],
            "lab_name": facts["lab_name"],
            "pairs": facts["pairs"],
            "dimension": facts["dimension"],
            "switch_cores": identity["switch_cores"],
            "path": path,
            "identity": identity,
        })
    for number, test in enumerate(tests, start=1):
        test["index"] = number
        test["total"] = len(tests)
    return tests
