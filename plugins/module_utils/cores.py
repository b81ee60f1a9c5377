"""CPU core allocation for the virtual switch and the containers of a lab."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

_CPU_RANGE_RE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_cpu_list(value: object, field: str) -> list[int]:
    """Return sorted unique CPUs from a list of ints, an int, or a cpulist string "0-3,8"."""
    if isinstance(value, bool) or value is None:
        raise IcperfInputError(f"{field}: {value!r} is not a CPU list")
    if isinstance(value, int):
        items: list[object] = [value]
    elif isinstance(value, str):
        items = []
        for part in (piece.strip() for piece in value.split(",")):
            match = _CPU_RANGE_RE.match(part)
            if not match:
                raise IcperfInputError(f"{field}: {value!r} is not a CPU list (e.g. 0-3,8)")
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) else first
            if last < first:
                raise IcperfInputError(f"{field}: {value!r}: range {part} is reversed")
            items.extend(range(first, last + 1))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise IcperfInputError(f"{field}: {value!r} is not a CPU list")
    cpus: set[int] = set()
    for item in items:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise IcperfInputError(f"{field}: {item!r} is not a CPU number")
        cpus.add(item)
    return sorted(cpus)


def parse_host_cores(value: object) -> list[int]:
    """Host CPUs: a count (2 means CPUs 0 and 1), a list, or a cpulist string."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise IcperfInputError(f"host_cores: {value} must be at least 1")
        return list(range(value))
    cpus = parse_cpu_list(value, "host_cores")
    if not cpus:
        raise IcperfInputError("host_cores: empty, the host has at least one CPU")
    return cpus


def parse_siblings(value: object) -> dict[int, set[int]]:
    """Return a symmetric hyperthread map {cpu: other threads of its core}.

    Accepts {cpu: [cpus]} or {cpu: "0,4"} (the format of thread_siblings_list in /sys);
    keys may be strings, as they arrive from JSON or YAML.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise IcperfInputError(f"siblings: {value!r} is not a mapping {{cpu: [siblings]}}")
    result: dict[int, set[int]] = {}
    for key, threads in value.items():
        cpu = parse_cpu_list(key, "siblings")
        if len(cpu) != 1:
            raise IcperfInputError(f"siblings: key {key!r} is not a single CPU")
        group = set(parse_cpu_list(threads, f"siblings[{key}]")) | set(cpu)
        for member in group:
            result.setdefault(member, set()).update(group - {member})
    return result


@dataclass(frozen=True)
class CoreAllocation:
    """Cores of the switch and of each container, and whether any core is shared."""

    switch: list[int]
    containers: list[list[int]]
    shared: bool


def _with_siblings(cpus: set[int] | list[int], siblings: dict[int, set[int]]) -> set[int]:
    result = set(cpus)
    for cpu in cpus:
        result |= siblings.get(cpu, set())
    return result


def _pick_spread(candidates: list[int], count: int, siblings: dict[int, set[int]]) -> list[int]:
    """Pick up to ``count`` CPUs, first one thread per physical core, then any."""
    picked: list[int] = []
    covered: set[int] = set()
    for cpu in candidates:
        if len(picked) < count and cpu not in covered:
            picked.append(cpu)
            covered |= {cpu} | siblings.get(cpu, set())
    for cpu in candidates:
        if len(picked) < count and cpu not in picked:
            picked.append(cpu)
    return picked


def _pick_switch(
    host: list[int],
    reserved: set[int],
    explicit: set[int],
    count: int,
    siblings: dict[int, set[int]],
) -> list[int]:
    if count == 0:
        return []
    usable = [cpu for cpu in host if cpu not in reserved]
    if count > len(usable):
        raise IcperfInputError(
            f"switch_cores: {count} cores asked but only {len(usable)} host cores are not "
            f"reserved ({usable})"
        )
    clean = [cpu for cpu in usable if cpu not in _with_siblings(reserved | explicit, siblings)]
    picked = _pick_spread(clean, count, siblings)
    # Short of clean cores: take siblings of reserved cores, then cores pinned in the lab file.
    for pool in ([cpu for cpu in usable if cpu not in explicit], usable):
        picked += [cpu for cpu in pool if cpu not in picked][: count - len(picked)]
    return sorted(picked)


def allocate_cores(
    host_cores: object,
    wanted: Sequence[list[int] | None],
    reserved_cores: object = (0,),
    switch_cores: object = 0,
    siblings: object = None,
    per_container: int = 1,
) -> CoreAllocation:
    """Allocate cores to the switch and to the containers whose ``wanted`` entry is None.

    Entries of ``wanted`` that are lists are cores fixed by the lab file: they must be host
    cores, not reserved, and not overlap each other. Automatic cores avoid reserved cores,
    switch cores, fixed cores and the hyperthread siblings of all of them, and take one
    thread per physical core before using siblings. When too few cores are free, containers
    share cores round-robin (``shared`` is then True) rather than failing.
    """
    host = parse_host_cores(host_cores)
    reserved = set(parse_cpu_list(reserved_cores, "reserved_cores"))
    sibling_map = parse_siblings(siblings)
    if isinstance(switch_cores, str) and switch_cores.strip().isdigit():
        switch_cores = int(switch_cores)
    if isinstance(switch_cores, bool) or not isinstance(switch_cores, int) or switch_cores < 0:
        raise IcperfInputError(f"switch_cores: {switch_cores!r} is not a count of cores >= 0")
    if isinstance(per_container, bool) or not isinstance(per_container, int) or per_container < 1:
        raise IcperfInputError(f"cpus_per_container: {per_container!r} must be an integer >= 1")
    for cpu in sorted(reserved):
        if cpu not in host:
            raise IcperfInputError(f"reserved_cores: cpu {cpu} is not a host core ({host})")
    if reserved == set(host) and (switch_cores or any(cpus is None for cpus in wanted)):
        raise IcperfInputError(f"reserved_cores: all host cores ({host}) are reserved")

    explicit: set[int] = set()
    owner: dict[int, int] = {}
    for position, cpus in enumerate(wanted):
        if cpus is None:
            continue
        for cpu in cpus:
            field = f"containers[{position}].cpus"
            if cpu not in host:
                raise IcperfInputError(f"{field}: cpu {cpu} is not a host core ({host})")
            if cpu in reserved:
                raise IcperfInputError(f"{field}: cpu {cpu} is reserved (reserved_cores)")
            if cpu in owner:
                raise IcperfInputError(
                    f"{field}: cpu {cpu} is also in containers[{owner[cpu]}].cpus"
                )
            owner[cpu] = position
        explicit |= set(cpus)

    switch = _pick_switch(host, reserved, explicit, switch_cores, sibling_map)
    shared = bool(set(switch) & explicit)
    auto = [position for position, cpus in enumerate(wanted) if cpus is None]
    needed = len(auto) * per_container
    avoid = _with_siblings(reserved | set(switch) | explicit, sibling_map)
    free = _pick_spread([cpu for cpu in host if cpu not in avoid], needed, sibling_map)

    result = [list(cpus) if cpus is not None else [] for cpus in wanted]
    if len(free) >= needed:
        for number, position in enumerate(auto):
            result[position] = sorted(free[number * per_container : (number + 1) * per_container])
        return CoreAllocation(switch=switch, containers=result, shared=shared)

    # Too few free cores: share, staying off the switch and reserved cores when possible.
    pool = free or [cpu for cpu in host if cpu not in reserved] or host
    for number, position in enumerate(auto):
        start = number * per_container
        cores = {pool[(start + offset) % len(pool)] for offset in range(per_container)}
        result[position] = sorted(cores)
    return CoreAllocation(switch=switch, containers=result, shared=True)
