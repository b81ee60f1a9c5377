from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import matrix
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.identity import lab_digest

WriteLab = Callable[[str, Any], str]


def sweep(**given: Any) -> dict[str, Any]:
    """Test-set parameters as check_test_params returns them, for the keys given."""
    return {"bursts": [32], "rates": [1000], "pkt_sizes": [64], "vswitches": ["ovs"], **given}


def test_single_lab_uses_the_lab_and_the_thesis_tree(write_lab: WriteLab) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1})
    params = sweep(vswitches="ovs linux-bridge", pkt_sizes="64 1500", rates=[1000, 2000],
                   labs=[lab])  # fmt: skip
    tests = matrix.test_matrix(params)
    assert len(tests) == 2 * 2 * 1 * 2
    assert [t["index"] for t in tests] == list(range(1, 9))
    assert {t["total"] for t in tests} == {8}
    expected = list(itertools.product(["ovs", "linux-bridge"], [64, 1500], [32], [1000, 2000]))
    assert [(t["vswitch"], t["pkt_size"], t["burst"], t["rate"]) for t in tests] == expected
    identity = {
        "dimension": "throughput", "hosts": "local", "pairs": 1, "lab": "pairs1",
        "lab_sha256": lab_digest({"pairs": 1}), "vswitch": "ovs", "pkt_size": 64,
        "rate": 1000, "burst": 32, "duration": 60, "raw": False, "blocking": False,
        "consume": False, "multi": False, "debug": False, "xdp": False, "switch_cores": 1,
    }  # fmt: skip
    assert tests[0] == {
        "index": 1, "total": 8, "vswitch": "ovs", "pkt_size": 64, "burst": 32, "rate": 1000,
        "lab": lab, "lab_name": "pairs1", "pairs": 1, "dimension": "throughput",
        "switch_cores": 1, "path": "pairs1/c1/32/ovs/64/1000", "identity": identity,
    }  # fmt: skip
    assert tests[-1]["path"] == "pairs1/32/linux-bridge/1500/2000"
    assert tests[-1]["switch_cores"] == 0


def test_every_identity_parameter_changes_the_folder(write_lab: WriteLab) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1})
    base = sweep(vswitches=["linux-bridge"], labs=[lab])
    variants = [
        ({}, "pairs1/32/linux-bridge/64/1000"),
        ({"duration": 10}, "pairs1/d10/32/linux-bridge/64/1000"),
        ({"multi": True}, "pairs1/multi/32/linux-bridge/64/1000"),
        ({"raw": True, "blocking": True, "consume": True, "debug": True},
         "pairs1/raw-blocking-consume-debug/32/linux-bridge/64/1000"),
        ({"dimension": "latency"}, "pairs1/latency/32/linux-bridge/64/1000"),
        ({"multi": True, "duration": 5}, "pairs1/multi-d5/32/linux-bridge/64/1000"),
    ]  # fmt: skip
    paths = [matrix.test_matrix({**base, **given})[0]["path"] for given, _ in variants]
    assert paths == [path for _, path in variants]
    assert len(set(paths)) == len(paths)


def test_a_lab_that_is_latency_already_gets_no_dimension_token(write_lab: WriteLab) -> None:
    lab = write_lab("lat.yml", {"pairs": 1, "dimension": "latency"})
    tests = matrix.test_matrix(sweep(labs=[lab], dimension="latency"))
    assert tests[0]["path"] == "lat/c1/32/ovs/64/1000"
    assert tests[0]["identity"]["dimension"] == "latency"


def test_sequences_and_order_with_swept_labs_and_cores(write_lab: WriteLab) -> None:
    one = write_lab("pairs1.yml", {"pairs": 1})
    two = write_lab("pairs2.yml", {"pairs": 2})
    params = sweep(pkt_sizes="64..64..128", bursts="32..32..64", labs=[one, two],
                   switch_cores="1 2")  # fmt: skip
    tests = matrix.test_matrix(params)
    assert len(tests) == 2 * 2 * 2 * 2
    assert [t["path"] for t in tests[:4]] == [
        "pairs1/c1/32/ovs/64/1000",
        "pairs1/c2/32/ovs/64/1000",
        "pairs2/c1/32/ovs/64/1000",
        "pairs2/c2/32/ovs/64/1000",
    ]
    assert tests[4]["path"] == "pairs1/c1/64/ovs/64/1000"
    assert tests[-1]["path"] == "pairs2/c2/64/ovs/128/1000"
    assert [t["pairs"] for t in tests[:4]] == [1, 1, 2, 2]
    assert len({t["path"] for t in tests}) == len(tests)


def test_coreless_switches_appear_once_per_core_sweep(write_lab: WriteLab) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1, "vf_pcis": ["0000:04:10.0", "0000:04:10.1"]})
    tests = matrix.test_matrix(
        sweep(vswitches="linux-bridge ovs sriov", labs=[lab], switch_cores=[1, 2])
    )
    assert [(t["path"], t["switch_cores"]) for t in tests] == [
        ("pairs1/32/linux-bridge/64/1000", 0),
        ("pairs1/c1/32/ovs/64/1000", 1),
        ("pairs1/c2/32/ovs/64/1000", 2),
        ("pairs1/32/sriov/64/1000", 0),
    ]
    assert [(t["index"], t["total"]) for t in tests] == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_lab_with_remote_containers_is_a_remote_test(write_lab: WriteLab) -> None:
    lab = write_lab("remote.yml", {"containers": [
        {"name": "a", "app": "send", "ip": "10.0.3.10", "mac": "02:00:00:00:03:0a",
         "peer_ip": "10.0.3.11", "peer_mac": "02:00:00:00:03:0b", "remote": True},
    ]})  # fmt: skip
    assert matrix.test_matrix(sweep(labs=[lab]))[0]["identity"]["hosts"] == "remote"


def test_labs_with_the_same_name_are_refused(write_lab: WriteLab, tmp_path: Any) -> None:
    (tmp_path / "other").mkdir()
    first = write_lab("lab.yml", {"pairs": 1})
    second = write_lab("other/lab.yml", {"pairs": 2})
    with pytest.raises(IcperfInputError, match=r"^labs: labs\[0\] and labs\[1\] are both"):
        matrix.read_labs([first, second])
    with pytest.raises(IcperfInputError, match=r"^labs: labs\[0\] and labs\[1\] are both"):
        matrix.test_matrix(sweep(labs=[first, second]))


def test_labs_are_read_once_and_their_content_is_used(write_lab: WriteLab) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1})
    labs = matrix.read_labs([lab])
    assert labs == {lab: {"pairs": 1}}
    # The content given wins over the file: the matrix does not read it again.
    tests = matrix.test_matrix(sweep(labs=[lab]), {lab: {"pairs": 3}})
    assert tests[0]["pairs"] == 3
    assert tests[0]["identity"]["lab_sha256"] == lab_digest({"pairs": 3})
    with pytest.raises(IcperfInputError, match=r"^labs\[0\]: .* was not read"):
        matrix.test_matrix(sweep(labs=[lab]), {})


def test_dimension_applies_to_short_labs_and_is_checked(write_lab: WriteLab) -> None:
    lab = write_lab("pairs1.yml", {"pairs": 1})
    assert matrix.test_matrix(sweep(labs=[lab], dimension="latency"))[0][
        "dimension"
    ] == "latency"
    fixed = write_lab("fixed.yml", {"pairs": 1, "dimension": "throughput"})
    with pytest.raises(IcperfInputError, match=r"^labs\[0\] \(.*fixed.yml\): dimension: "):
        matrix.test_matrix(sweep(labs=[fixed], dimension="latency"))


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"labs": []}, "labs: empty list"),
        ({}, "labs: missing, give at least one lab file"),
        ({"vswitches": ["bess"]}, "vswitches: unknown virtual switch 'bess'"),
        ({"pkt_sizes": "64..0..128"}, "pkt_sizes: '64..0..128': step must"),
        ({"bursts": [0]}, "bursts: 0 is out of range"),
        ({"rates": [0]}, "rates: 0 is out of range"),
        ({"duration": 0}, "duration: 0 must be a whole number"),
    ],
)
def test_bad_values_name_the_argument(
    write_lab: WriteLab, given: dict[str, Any], message: str
) -> None:
    params = sweep(**given)
    if "labs" not in given and given:
        params["labs"] = [write_lab("pairs1.yml", {"pairs": 1})]
    with pytest.raises(IcperfInputError) as caught:
        matrix.test_matrix(params)
    assert str(caught.value).startswith(message)


def test_invalid_lab_file_is_named(write_lab: WriteLab) -> None:
    good = write_lab("good.yml", {"pairs": 1})
    bad = write_lab("bad.yml", {"pairs": 0})
    with pytest.raises(IcperfInputError, match=r"^labs\[1\] \(.*bad.yml\): pairs: 0 must be"):
        matrix.read_labs([good, bad])


def test_lab_name() -> None:
    assert matrix.lab_name("/x/labs/pairs2.yaml") == "pairs2"
    assert matrix.lab_name("labs/pairs2.lab") == "pairs2.lab"
