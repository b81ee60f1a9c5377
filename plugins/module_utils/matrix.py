"""The test matrix of a test set and the result folder of each test."""

from __future__ import annotations

import itertools
import os

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labspec import (
    load_lab_file,
    parse_lab,
)
from ansible_collections.icperf.lab.plugins.module_utils.params import parse_test_params

# Switches that poll no host cores of their own: the kernel bridge and the NIC's switch.
CORELESS_VSWITCHES = ("linux-bridge", "sriov")


def lab_name(path: str) -> str:
    """Name of a lab: its file name without .yml/.yaml."""
    base = os.path.basename(path)
    for suffix in (".yml", ".yaml"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def result_path(
    burst: int,
    vswitch: str,
    pkt_size: int,
    rate: int,
    lab_prefix: str | None = None,
    switch_cores: int | None = None,
) -> str:
    """Result folder of one test: [<lab_prefix>/][c<switch_cores>/]<burst>/<vswitch>/<pkt>/<rate>.

    The last four levels are the thesis' tree (bst-size/vswitch/pkt-size/rate).
    """
    parts = [] if lab_prefix is None else [lab_prefix]
    if switch_cores is not None:
        parts.append(f"c{switch_cores}")
    parts += [str(burst), vswitch, str(pkt_size), str(rate)]
    return "/".join(parts)


def _lab_prefixes(names: list[str], pairs: list[int]) -> list[str]:
    """Prefix per lab: "<S>vs<S>" when pair counts tell the labs apart, else the lab name."""
    if len(set(pairs)) == len(pairs):
        return [f"{count}vs{count}" for count in pairs]
    for position, name in enumerate(names):
        if names.index(name) != position:
            raise IcperfInputError(
                f"labs: labs[{names.index(name)}] and labs[{position}] are both named {name!r} "
                "and have the same number of pairs; rename one"
            )
    return names


def test_matrix(
    vswitches: object,
    pkt_sizes: object,
    bursts: object,
    rates: object,
    labs: object,
    switch_cores: object = (1,),
    dimension: str | None = None,
) -> list[dict[str, object]]:
    """Every test of a test set, in the order of the cartesian product of the arguments.

    The product runs over vswitches, pkt_sizes, bursts, rates, labs, switch_cores (the
    last one varies fastest). Values are validated as check_test_params does; each lab file
    is read and validated. Switches that use no cores of their own (linux-bridge, sriov)
    get switch_cores 0 and appear once however many switch_cores values are swept.
    """
    params = parse_test_params({
        "vswitches": vswitches,
        "pkt_sizes": pkt_sizes,
        "bursts": bursts,
        "rates": rates,
        "labs": labs,
        "switch_cores": switch_cores,
        "dimension": dimension,
    })
    if not params.labs:
        raise IcperfInputError("labs: missing, give at least one lab file")
    names: list[str] = []
    pairs: list[int] = []
    dimensions: list[str] = []
    for position, path in enumerate(params.labs):
        try:
            lab = parse_lab(load_lab_file(path), params.dimension)
        except IcperfInputError as error:
            raise IcperfInputError(f"labs[{position}] ({path}): {error}") from None
        names.append(lab_name(path))
        pairs.append(lab.pairs)
        dimensions.append(lab.dimension)
    several_labs = len(params.labs) > 1
    prefixes: list[str | None] = list(_lab_prefixes(names, pairs)) if several_labs else [None]
    swept_cores = len(params.switch_cores) > 1

    tests: list[dict[str, object]] = []
    seen: set[str] = set()
    for vswitch, pkt_size, burst, rate, lab_index, cores in itertools.product(
        params.vswitches,
        params.pkt_sizes,
        params.bursts,
        params.rates,
        range(len(params.labs)),
        params.switch_cores,
    ):
        used_cores = 0 if vswitch in CORELESS_VSWITCHES else cores
        path = result_path(
            burst, vswitch, pkt_size, rate,
            lab_prefix=prefixes[lab_index],
            switch_cores=used_cores if swept_cores else None,
        )  # fmt: skip
        if path in seen:
            continue
        seen.add(path)
        tests.append({
            "vswitch": vswitch,
            "pkt_size": pkt_size,
            "burst": burst,
            "rate": rate,
            "lab": params.labs[lab_index],
            "lab_name": names[lab_index],
            "pairs": pairs[lab_index],
            "dimension": dimensions[lab_index],
            "switch_cores": used_cores,
            "path": path,
        })
    for number, test in enumerate(tests, start=1):
        test["index"] = number
        test["total"] = len(tests)
    return tests
