"""Validation and normalisation of the parameters of a test or a test set."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.sequences import expand_sequence
from ansible_collections.icperf.lab.plugins.module_utils.vswitches import (
    APPLETS_SOCKET,
    SwitchTraits,
    traits,
)
from ansible_collections.icperf.lab.plugins.module_utils.vswitches import (
    NAMES as VSWITCHES,
)

DIMENSIONS = ("throughput", "latency")
FLAGS = ("raw", "blocking", "consume", "multi", "debug", "xdp")
PKT_SIZE_RANGE = (64, 1500)
BURST_RANGE = (1, 1024)
DEFAULT_DURATION = 60

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def parse_bool(value: object, name: str) -> bool:
    """Return a boolean from a bool, 0/1 or the strings Ansible accepts (yes/no/true/false)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise IcperfInputError(f"{name}: {value!r} is not a boolean (true/false)")


def xdp_capable(row: SwitchTraits) -> bool:
    """AF_XDP (-X) needs a kernel netdev in the container driven by the socket applets."""
    return row.kernel_path and row.applets == APPLETS_SOCKET


def check_xdp(vswitches: Sequence[str], flags: Mapping[str, bool]) -> None:
    """Refuse xdp=true where it cannot run or would measure nothing new: with raw (another
    transport), with multi (the rings move a burst per kick anyway), on any other switch."""
    if not flags.get("xdp"):
        return
    if flags.get("raw"):
        raise IcperfInputError("xdp: xdp and raw are two transports (-X and -R): give one")
    if flags.get("multi"):
        raise IcperfInputError(
            "xdp: multi (sendmmsg/recvmmsg) is a socket mode; AF_XDP moves every burst with "
            "one kick anyway: leave multi out"
        )
    able = [name for name in VSWITCHES if xdp_capable(traits(name))]
    for name in vswitches:
        row = traits(name)
        if not xdp_capable(row):
            path = "a kernel-path switch" if row.kernel_path else "a kernel-bypass switch"
            raise IcperfInputError(
                f"xdp: {name} is {path} with {row.applets} applets; AF_XDP needs a kernel "
                f"netdev in the container and the socket applets ({', '.join(able)})"
            )


def _pick(params: Mapping[str, object], single: str, plural: str) -> tuple[str, object]:
    """Return (name, value) of whichever of ``single``/``plural`` is set."""
    one, many = params.get(single), params.get(plural)
    if one is not None and many is not None:
        raise IcperfInputError(f"{plural}: give either {single} or {plural}, not both")
    return (single, one) if one is not None else (plural, many)


def _check_vswitches(params: Mapping[str, object]) -> list[str]:
    name, value = _pick(params, "vswitch", "vswitches")
    if value is None:
        raise IcperfInputError("vswitches: missing (give vswitch or vswitches)")
    if isinstance(value, str):
        items: list[object] = list(value.replace(",", " ").split())
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise IcperfInputError(f"{name}: {value!r} is not a virtual switch name or a list")
    if not items:
        raise IcperfInputError(f"{name}: empty, give at least one virtual switch")
    names: list[str] = []
    for item in items:
        if item not in VSWITCHES:
            raise IcperfInputError(
                f"{name}: unknown virtual switch {item!r} (known: {', '.join(VSWITCHES)})"
            )
        if item in names:
            raise IcperfInputError(f"{name}: {item} appears more than once")
        names.append(str(item))
    return names


def _check_range(
    params: Mapping[str, object], single: str, plural: str, low: int, high: int | None
) -> list[int]:
    name, value = _pick(params, single, plural)
    if value is None:
        raise IcperfInputError(f"{plural}: missing (give {single} or {plural})")
    values = expand_sequence(value, name)
    for number in values:
        if number < low or (high is not None and number > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            raise IcperfInputError(f"{name}: {number} is out of range (must be {bounds})")
    return values


def _check_labs(params: Mapping[str, object], base_dir: str | None) -> list[str]:
    name, value = _pick(params, "lab", "labs")
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise IcperfInputError(f"{name}: {value!r} is not a lab file path or a list of paths")
    if not items:
        raise IcperfInputError(f"{name}: empty list, give a lab file or leave {name} out")
    paths: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise IcperfInputError(f"{name}: {item!r} is not a lab file path")
        path = os.path.normpath(os.path.join(base_dir or os.getcwd(), item.strip()))
        if not os.path.isfile(path):
            raise IcperfInputError(f"{name}: lab file {item} does not exist ({path})")
        if path in paths:
            raise IcperfInputError(f"{name}: {item} appears more than once")
        paths.append(path)
    return paths


@dataclass
class TestParams:
    """Normalised parameters of a test set."""

    vswitches: list[str]
    pkt_sizes: list[int]
    bursts: list[int]
    rates: list[int]
    labs: list[str]
    switch_cores: list[int]
    duration: int
    flags: dict[str, bool]
    dimension: str | None


def parse_test_params(
    params: Mapping[str, object], base_dir: str | None = None
) -> TestParams:
    """Validate the parameters of a test set; see check_test_params."""
    if not isinstance(params, Mapping):
        raise IcperfInputError(f"params: {params!r} is not a mapping")
    switch_cores = params.get("switch_cores")
    counts = [1] if switch_cores is None else expand_sequence(switch_cores, "switch_cores")
    if any(number < 0 for number in counts):
        raise IcperfInputError(f"switch_cores: {switch_cores!r}: counts must be >= 0")

    duration = params.get("duration", DEFAULT_DURATION)
    if isinstance(duration, str) and duration.strip().isdigit():
        duration = int(duration)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 1:
        raise IcperfInputError(f"duration: {duration!r} must be a whole number of seconds >= 1")

    dimension = params.get("dimension")
    if dimension is not None and dimension not in DIMENSIONS:
        raise IcperfInputError(f"dimension: {dimension!r} is not one of {', '.join(DIMENSIONS)}")

    parsed = TestParams(
        vswitches=_check_vswitches(params),
        pkt_sizes=_check_range(params, "pkt_size", "pkt_sizes", *PKT_SIZE_RANGE),
        bursts=_check_range(params, "burst", "bursts", *BURST_RANGE),
        rates=_check_range(params, "rate", "rates", 1, None),
        labs=_check_labs(params, base_dir),
        switch_cores=counts,
        duration=duration,
        flags={
            flag: False if params.get(flag) is None else parse_bool(params[flag], flag)
            for flag in FLAGS
        },
        dimension=None if dimension is None else str(dimension),
    )
    check_xdp(parsed.vswitches, parsed.flags)
    return parsed


def check_test_params(
    params: Mapping[str, object], base_dir: str | None = None
) -> dict[str, object]:
    """Validate the parameters of a test set and return them normalised.

    The result always holds the plural lists vswitches, pkt_sizes, bursts, rates, labs
    (absolute paths; relative ones are taken from ``base_dir``, default the current
    directory) and switch_cores (default [1]), plus duration (int, default 60) and the
    boolean flags raw, blocking, consume, multi, debug, xdp (default false; xdp only on
    switches xdp_capable allows, and without raw or multi). When a list has
    exactly one value the singular key (vswitch, pkt_size, burst, rate, lab) holds it too,
    so a single-test playbook can read ``params.vswitch``. Other keys pass through as given.
    """
    parsed = parse_test_params(params, base_dir)
    result: dict[str, object] = dict(params)
    lists: dict[str, tuple[str, Sequence[object]]] = {
        "vswitches": ("vswitch", parsed.vswitches),
        "pkt_sizes": ("pkt_size", parsed.pkt_sizes),
        "bursts": ("burst", parsed.bursts),
        "rates": ("rate", parsed.rates),
        "labs": ("lab", parsed.labs),
    }
    for plural, (single, values) in lists.items():
        result[plural] = list(values)
        if len(values) == 1:
            result[single] = values[0]
        else:
            result.pop(single, None)
    result["switch_cores"] = parsed.switch_cores
    result["duration"] = parsed.duration
    result.update(parsed.flags)
    return result
