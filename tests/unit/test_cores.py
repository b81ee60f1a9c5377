"""Core allocation: reserved cores, switch cores, hyperthread siblings, sharing."""

from __future__ import annotations

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.cores import (
    allocate_cores,
    parse_cpu_list,
    parse_host_cores,
    parse_siblings,
)
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labfile import (
    lab_containers,
    vswitch_cores,
)

# Four physical cores with two threads each, numbered as Linux numbers them on x86.
SMT_4X2 = {"0": "0,4", "1": "1,5", "2": "2,6", "3": "3,7"}


def cpus_of(containers: list[dict[str, object]]) -> list[object]:
    return [container["cpus"] for container in containers]


def test_two_core_machine_shares_the_free_core() -> None:
    containers = lab_containers({"pairs": 1}, 2)
    assert cpus_of(containers) == [[1], [1]]
    assert all(container["shared_cores"] for container in containers)


def test_two_core_machine_with_a_polling_switch() -> None:
    assert vswitch_cores({"pairs": 1}, 2, switch_cores=1) == [1]
    containers = lab_containers({"pairs": 2}, 2, switch_cores=1, vswitch="ovs")
    # Nothing is free: containers share the non-reserved core with the switch.
    assert cpus_of(containers) == [[1], [1], [1], [1]]
    assert all(container["shared_cores"] for container in containers)


def test_enough_cores_without_siblings() -> None:
    containers = lab_containers({"pairs": 2}, 8, switch_cores=1)
    assert cpus_of(containers) == [[2], [3], [4], [5]]
    assert not any(container["shared_cores"] for container in containers)


def test_siblings_of_reserved_and_switch_cores_are_avoided() -> None:
    assert vswitch_cores({"pairs": 1}, 8, switch_cores=1, siblings=SMT_4X2) == [1]
    one_pair = lab_containers({"pairs": 1}, 8, switch_cores=1, siblings=SMT_4X2)
    # 4 and 5 are siblings of reserved 0 and switch 1; 6 waits behind its sibling 2.
    assert cpus_of(one_pair) == [[2], [3]]
    two_pairs = lab_containers({"pairs": 2}, 8, switch_cores=1, siblings=SMT_4X2)
    assert cpus_of(two_pairs) == [[2], [3], [6], [7]]
    assert not any(container["shared_cores"] for container in two_pairs)


def test_switch_spreads_over_physical_cores() -> None:
    assert vswitch_cores({"pairs": 1}, 8, switch_cores=2, siblings=SMT_4X2) == [1, 2]
    containers = lab_containers({"pairs": 1}, 8, switch_cores=2, siblings=SMT_4X2)
    assert cpus_of(containers) == [[3], [7]]


def test_sharing_round_robin_stays_off_blocked_cores() -> None:
    containers = lab_containers({"pairs": 4}, 8, switch_cores=1, siblings=SMT_4X2)
    assert cpus_of(containers) == [[2], [3], [6], [7], [2], [3], [6], [7]]
    assert all(container["shared_cores"] for container in containers)


def test_several_cores_per_container() -> None:
    lab = {"pairs": 1, "cpus_per_container": 2}
    assert cpus_of(lab_containers(lab, 8, switch_cores=2)) == [[3, 4], [5, 6]]
    shared = lab_containers(lab, 4, switch_cores=1)
    assert cpus_of(shared) == [[2, 3], [2, 3]]
    assert shared[0]["shared_cores"] is True


def test_switch_takes_a_sibling_of_a_reserved_core_when_short() -> None:
    allocation = allocate_cores(
        [0, 1, 2, 3], [None, None], reserved_cores=[0], switch_cores=3,
        siblings={0: [2], 1: [3]},
    )  # fmt: skip
    assert allocation.switch == [1, 2, 3]
    assert allocation.containers == [[1], [2]]
    assert allocation.shared is True


def test_no_reserved_cores() -> None:
    allocation = allocate_cores(2, [None, None], reserved_cores=[], switch_cores=0)
    assert (allocation.switch, allocation.containers, allocation.shared) == (
        [], [[0], [1]], False,
    )  # fmt: skip


def test_fixed_and_automatic_cores_mix() -> None:
    allocation = allocate_cores(6, [[3], None, [1], None], switch_cores=1)
    assert allocation.switch == [2]
    assert allocation.containers == [[3], [4], [1], [5]]
    assert allocation.shared is False


def test_parse_cpu_list_forms() -> None:
    assert parse_cpu_list("0-3,8,2", "c") == [0, 1, 2, 3, 8]
    assert parse_cpu_list(["3", 1], "c") == [1, 3]
    assert parse_cpu_list(5, "c") == [5]
    for bad in ("3-1", "a", [-1], [1.0], None, True):
        with pytest.raises(IcperfInputError, match=r"^c: "):
            parse_cpu_list(bad, "c")


def test_parse_host_cores_forms() -> None:
    assert parse_host_cores(2) == [0, 1]
    assert parse_host_cores("0-1,4") == [0, 1, 4]
    assert parse_host_cores([2, 3]) == [2, 3]
    with pytest.raises(IcperfInputError, match=r"^host_cores: empty"):
        parse_host_cores([])


def test_parse_siblings_is_symmetric() -> None:
    assert parse_siblings({0: [4]}) == {0: {4}, 4: {0}}
    assert parse_siblings(SMT_4X2)[6] == {2}
    assert parse_siblings(None) == {}
    with pytest.raises(IcperfInputError, match=r"^siblings\[0\]: 'x' is not a CPU list"):
        parse_siblings({0: "x"})
    with pytest.raises(IcperfInputError, match=r"^siblings: key '0-1' is not a single CPU"):
        parse_siblings({"0-1": [2]})
