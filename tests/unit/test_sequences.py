from __future__ import annotations

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.sequences import (
    MAX_VALUES,
    expand_sequence,
)


def test_thesis_example_expands_inclusive() -> None:
    assert expand_sequence("64..32..256", "bursts") == [64, 96, 128, 160, 192, 224, 256]


def test_sequence_whose_step_misses_max_stops_below_it() -> None:
    assert expand_sequence("64..100..300", "pkt_sizes") == [64, 164, 264]


def test_single_value_sequence() -> None:
    assert expand_sequence("64..1..64", "pkt_sizes") == [64]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (64, [64]),
        ([64, 128], [64, 128]),
        (["64", "128"], [64, 128]),
        ("32 64 128 512", [32, 64, 128, 512]),
        ("  32,64, 128 ", [32, 64, 128]),
        ("1500 64", [1500, 64]),
        (["64..64..192", 1500], [64, 128, 192, 1500]),
        ("32 64..32..128", [32, 64, 96, 128]),
        ((1, 2), [1, 2]),
    ],
)
def test_accepted_forms(value: object, expected: list[int]) -> None:
    assert expand_sequence(value, "rates") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1500..-1..64", "pkt_sizes: '1500..-1..64': step must be > 0"),
        ("64..0..256", "pkt_sizes: '64..0..256': step must be > 0"),
        ("256..32..64", "pkt_sizes: '256..32..64': MIN (256) is greater than MAX (64)"),
        ("a..b..c", "pkt_sizes: 'a..b..c': 'a' is not an integer"),
        ("", "pkt_sizes: '': empty, give at least one value"),
        ("   ", "pkt_sizes: '   ': empty"),
        ("64..32", "pkt_sizes: '64..32': a sequence is written MIN..STEP..MAX"),
        ("64..32..256..512", "pkt_sizes: '64..32..256..512': a sequence is written"),
        ("64.5", "pkt_sizes: '64.5': '64.5' is not an integer"),
        ("64..0.5..128", "pkt_sizes: '64..0.5..128': '0.5' is not an integer"),
        (64.0, "pkt_sizes: 64.0 is not an integer or a list of integers (float)"),
        ([64, 1.5], "pkt_sizes[1]: 1.5 is not an integer (float)"),
        (["64", "x"], "pkt_sizes[1]: 'x': 'x' is not an integer"),
        ([], "pkt_sizes: empty list"),
        (None, "pkt_sizes: None is not an integer"),
        (True, "pkt_sizes: True is not an integer"),
        ([True], "pkt_sizes[0]: True is not an integer (bool)"),
        ({"a": 1}, "pkt_sizes: {'a': 1} is not an integer or a list of integers (dict)"),
        ("64 64", "pkt_sizes: 64 appears more than once"),
        ("64..32..128 96", "pkt_sizes: 96 appears more than once"),
    ],
)
def test_rejected_values_name_the_variable(value: object, message: str) -> None:
    with pytest.raises(IcperfInputError) as caught:
        expand_sequence(value, "pkt_sizes")
    assert str(caught.value).startswith(message)


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^rates: "):
        expand_sequence("x", "rates")


def test_huge_sweep_is_refused() -> None:
    with pytest.raises(IcperfInputError, match=rf"^rates: '1..1..{MAX_VALUES + 1}': expands"):
        expand_sequence(f"1..1..{MAX_VALUES + 1}", "rates")
    assert len(expand_sequence(f"1..1..{MAX_VALUES}", "rates")) == MAX_VALUES
