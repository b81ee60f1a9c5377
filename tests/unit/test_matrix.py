from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import matrix
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

WriteLab = Callable[[str, Any], str]


def test_single_lab_single_core_count_uses_the_thesis_tree(write_lab: WriteLab) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1})
    tests = matrix.test_matrix("ovs linux-bridge", "64 1500", "32", [1000, 2000], [lab])
    assert len(tests) == 2 * 2 * 1 * 2
    assert [t["index"] for t in tests] == list(range(1, 9))
    assert {t["total"] for t in tests} == {8}
    expected = list(itertools.product(["ovs", "linux-bridge"], [64, 1500], [32], [1000, 2000]))
    assert [(t["vswitch"], t["pkt_size"], t["burst"], t["rate"]) for t in tests] == expected
    assert tests[0] == {
        "index": 1, "total": 8, "vswitch": "ovs", "pkt_size": 64, "burst": 32, "rate": 1000,
        "lab": lab, "lab_name": "pairs1", "pairs": 1, "dimension": "throughput",
        "switch_cores": 1, "path": "32/ovs/64/1000",
    }  # fmt: skip
    assert tests[-1]["path"] == "32/linux-bridge/1500/2000"
    assert tests[-1]["switch_cores"] == 0


def test_sequences_and_order_with_swept_labs_and_cores(write_lab: WriteLab) -> None:
    one = write_lab("pairs1.yml", {"pairs": 1})
    two = write_lab("pairs2.yml", {"pairs": 2})
    tests = matrix.test_matrix(["ovs"], "64..64..128", "32..32..64", 1000, [one, two], "1 2")
    assert len(tests) == 2 * 2 * 2 * 2
    assert [t["path"] for t in tests[:4]] == [
        "1vs1/c1/32/ovs/64/1000",
        "1vs1/c2/32/ovs/64/1000",
        "2vs2/c1/32/ovs/64/1000",
        "2vs2/c2/32/ovs/64/1000",
    ]
    assert tests[4]["path"] == "1vs1/c1/64/ovs/64/1000"
    assert tests[-1]["path"] == "2vs2/c2/64/ovs/128/1000"
    assert [t["pairs"] for t in tests[:4]] == [1, 1, 2, 2]
    assert len({t["path"] for t in tests}) == len(tests)


def test_prefix_only_for_swept_labs_or_only_for_swept_cores(write_lab: WriteLab) -> None:
    one = write_lab("pairs1.yml", {"pairs": 1})
    two = write_lab("pairs2.yml", {"pairs": 2})
    by_lab = matrix.test_matrix("vpp", 64, 32, 1000, [one, two], [2])
    assert [t["path"] for t in by_lab] == ["1vs1/32/vpp/64/1000", "2vs2/32/vpp/64/1000"]
    assert {t["switch_cores"] for t in by_lab} == {2}
    by_cores = matrix.test_matrix("vpp", 64, 32, 1000, [one], [1, 2, 4])
    assert [t["path"] for t in by_cores] == [
        "c1/32/vpp/64/1000", "c2/32/vpp/64/1000", "c4/32/vpp/64/1000",
    ]  # fmt: skip


def test_coreless_switches_appear_once_per_core_sweep(write_lab: WriteLab) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1})
    tests = matrix.test_matrix("linux-bridge ovs sriov", 64, 32, 1000, [lab], [1, 2])
    assert [(t["path"], t["switch_cores"]) for t in tests] == [
        ("c0/32/linux-bridge/64/1000", 0),
        ("c1/32/ovs/64/1000", 1),
        ("c2/32/ovs/64/1000", 2),
        ("c0/32/sriov/64/1000", 0),
    ]
    assert [(t["index"], t["total"]) for t in tests] == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_labs_with_equal_pairs_are_told_apart_by_name(write_lab: WriteLab) -> None:
    tput = write_lab("tput.yml", {"pairs": 1})
    lat = write_lab("lat.yaml", {"pairs": 1, "dimension": "latency"})
    tests = matrix.test_matrix("ovs", 64, 32, 1000, [tput, lat])
    assert [(t["path"], t["dimension"], t["lab_name"]) for t in tests] == [
        ("tput/32/ovs/64/1000", "throughput", "tput"),
        ("lat/32/ovs/64/1000", "latency", "lat"),
    ]


def test_same_name_and_pairs_is_refused(write_lab: WriteLab, tmp_path: Any) -> None:
    (tmp_path / "other").mkdir()
    first = write_lab("lab.yml", {"pairs": 1})
    second = write_lab("other/lab.yml", {"pairs": 1})
    with pytest.raises(IcperfInputError, match=r"^labs: labs\[0\] and labs\[1\] are both"):
        matrix.test_matrix("ovs", 64, 32, 1000, [first, second])


def test_dimension_applies_to_short_labs_and_is_checked(write_lab: WriteLab) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1})
    assert matrix.test_matrix("ovs", 64, 32, 1, [lab], dimension="latency")[0][
        "dimension"
    ] == "latency"
    fixed = write_lab("fixed.yml", {"pairs": 1, "dimension": "throughput"})
    with pytest.raises(IcperfInputError, match=r"^labs\[0\] \(.*fixed.yml\): dimension: "):
        matrix.test_matrix("ovs", 64, 32, 1, [fixed], dimension="latency")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((["ovs"], [64], [32], [1000], []), "labs: empty list"),
        ((["ovs"], [64], [32], [1000], None), "labs: missing, give at least one lab file"),
        ((["bess"], [64], [32], [1000], None), "vswitches: unknown virtual switch 'bess'"),
        ((["ovs"], "64..0..128", [32], [1000], None), "pkt_sizes: '64..0..128': step must"),
        ((["ovs"], [64], [0], [1000], None), "bursts: 0 is out of range"),
        ((["ovs"], [64], [32], [0], None), "rates: 0 is out of range"),
    ],
)
def test_bad_values_name_the_argument(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(IcperfInputError) as caught:
        matrix.test_matrix(*args)
    assert str(caught.value).startswith(message)


def test_invalid_lab_file_is_named(write_lab: WriteLab) -> None:
    good = write_lab("good.yml", {"pairs": 1})
    bad = write_lab("bad.yml", {"pairs": 0})
    with pytest.raises(IcperfInputError, match=r"^labs\[1\] \(.*bad.yml\): pairs: 0 must be"):
        matrix.test_matrix("ovs", 64, 32, 1000, [good, bad])


def test_result_path_and_lab_name() -> None:
    assert matrix.result_path(32, "ovs", 64, 1000) == "32/ovs/64/1000"
    assert matrix.result_path(32, "ovs", 64, 1000, "2vs2", 4) == "2vs2/c4/32/ovs/64/1000"
    assert matrix.lab_name("/x/labs/pairs2.yaml") == "pairs2"
    assert matrix.lab_name("labs/pairs2.lab") == "pairs2.lab"
