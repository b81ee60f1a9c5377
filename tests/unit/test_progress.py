"""Progress lines and ETA, then the callback plugin fed real task results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ansible.executor.task_result import CallbackTaskResult
from ansible.inventory.host import Host
from ansible.playbook.task import Task
from ansible_collections.icperf.lab.plugins.callback.progress import CallbackModule
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.progress import (
    ProgressTracker,
    format_duration,
)


class FakeClock:
    """Monotonic seconds that the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0h00m"), (1, "0h01m"), (60, "0h01m"), (301, "0h06m"), (720, "0h12m"),
     (3600, "1h00m"), (26 * 3600 + 180, "26h03m")],
)  # fmt: skip
def test_format_duration_rounds_up_to_minutes(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_duration_rejects_negative() -> None:
    with pytest.raises(IcperfInputError, match=r"^seconds: "):
        format_duration(-1)


def test_plan_line_and_eta_from_seconds_per_test_then_measured() -> None:
    clock = FakeClock()
    tracker = ProgressTracker(clock=clock)
    plan = {"total": 10, "to_run": 8, "skipped": 2, "seconds_per_test": 90}
    assert tracker.on_plan(plan) == "icperf: 10 tests (2 already done), estimated 0h12m"
    # First test: nothing measured yet, 8 tests left at 90 s.
    assert tracker.on_progress({"index": 3, "total": 10, "id": "32/ovs/64/1000"}) == (
        "icperf: test 3/10 32/ovs/64/1000 (ETA 0h12m)"
    )
    clock.now += 30
    # One test took 30 s; 7 left (this one included).
    assert tracker.on_progress({"index": 4, "total": 10, "id": "32/ovs/64/2000"}) == (
        "icperf: test 4/10 32/ovs/64/2000 (ETA 0h04m)"
    )
    clock.now += 90
    # Mean of 30 s and 90 s is 60 s; 6 left.
    assert tracker.on_progress({"index": 5, "total": 10, "id": "x"}) == (
        "icperf: test 5/10 x (ETA 0h06m)"
    )
    assert tracker.mean_duration() == 60
    clock.now += 60
    assert tracker.summary() == "icperf: 3 tests run in 0h03m"


def test_eta_counts_tests_left_to_run_not_indexes_left() -> None:
    clock = FakeClock()
    tracker = ProgressTracker(clock=clock)
    tracker.on_plan({"total": 10, "to_run": 3, "skipped": 7, "seconds_per_test": 60})
    # Done tests are spread over the matrix: index 2 is the first of only 3 to run.
    assert tracker.on_progress({"index": 2, "total": 10, "id": "a"}) == (
        "icperf: test 2/10 a (ETA 0h03m)"
    )
    clock.now += 120
    assert tracker.on_progress({"index": 9, "total": 10, "id": "b"}) == (
        "icperf: test 9/10 b (ETA 0h04m)"
    )


def test_repeated_event_prints_once() -> None:
    tracker = ProgressTracker(clock=FakeClock())
    assert tracker.on_progress({"index": 1, "total": 2, "id": "a"}) is not None
    assert tracker.on_progress({"index": 1, "total": 2, "id": "a"}) is None
    assert len(tracker.starts) == 1


def test_without_plan_eta_is_unknown_then_measured() -> None:
    clock = FakeClock()
    tracker = ProgressTracker(clock=clock)
    assert tracker.summary() is None
    assert tracker.on_progress({"index": 1, "total": 4, "id": "a"}) == (
        "icperf: test 1/4 a (ETA unknown)"
    )
    clock.now += 120
    assert tracker.on_progress({"index": 2, "total": 4, "id": "b"}) == (
        "icperf: test 2/4 b (ETA 0h06m)"
    )


def test_plan_without_seconds_per_test() -> None:
    tracker = ProgressTracker(clock=FakeClock())
    assert tracker.on_plan({"total": "5"}) == "icperf: 5 tests (0 already done)"
    assert tracker.plan is not None and tracker.plan.to_run == 5


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"to_run": 1}, "icperf_plan.total: None is not a count"),
        ({"total": -1}, "icperf_plan.total: -1 is not a count"),
        ({"total": 2, "seconds_per_test": "slow"}, "icperf_plan.seconds_per_test: 'slow'"),
        ("ten", "icperf_plan: 'ten' is not a mapping"),
    ],
)
def test_bad_plan_is_named(plan: object, message: str) -> None:
    with pytest.raises(IcperfInputError) as caught:
        ProgressTracker().on_plan(plan)
    assert str(caught.value).startswith(message)


def test_bad_progress_is_named() -> None:
    with pytest.raises(IcperfInputError, match=r"^icperf_progress.index: 'one' is not a count"):
        ProgressTracker().on_progress({"index": "one", "total": 2})
    with pytest.raises(IcperfInputError, match=r"^icperf_progress.total: None is not a count"):
        ProgressTracker().on_progress({"index": 1})


def fact_result(facts: dict[str, Any], host: str = "localhost") -> CallbackTaskResult:
    return CallbackTaskResult(Host(host), Task(), {"ansible_facts": facts, "changed": False}, {})


@pytest.fixture
def callback() -> Iterator[tuple[CallbackModule, FakeClock]]:
    clock = FakeClock()
    module = CallbackModule()
    module.tracker.clock = clock
    yield module, clock


def test_callback_class_declares_itself() -> None:
    assert CallbackModule.CALLBACK_TYPE == "aggregate"
    assert CallbackModule.CALLBACK_NEEDS_ENABLED is True
    assert CallbackModule.CALLBACK_NAME == "icperf.lab.progress"


def test_callback_prints_plan_progress_and_summary(
    callback: tuple[CallbackModule, FakeClock], capsys: pytest.CaptureFixture[str]
) -> None:
    module, clock = callback
    plan = {"total": 3, "to_run": 3, "skipped": 0, "seconds_per_test": 40}
    module.v2_runner_on_ok(fact_result({"icperf_plan": plan}))
    # Both hosts of a run across two hosts announce the same plan: printed once.
    module.v2_runner_on_ok(fact_result({"icperf_plan": plan}, host="other"))
    module.v2_runner_on_ok(fact_result({"other": 1}))
    module.v2_runner_on_ok(fact_result({"icperf_progress": {"index": 1, "total": 3, "id": "a"}}))
    # The same fact set on a second host is the same event.
    module.v2_runner_on_ok(
        fact_result({"icperf_progress": {"index": 1, "total": 3, "id": "a"}}, host="other")
    )
    clock.now += 200
    # A looped set_fact reports facts per item; the loop's own result has only "results".
    module.v2_runner_item_on_ok(
        fact_result({"icperf_progress": {"index": 2, "total": 3, "id": "b"}})
    )
    loop = CallbackTaskResult(Host("localhost"), Task(), {"results": [{}], "changed": False}, {})
    module.v2_runner_on_ok(loop)
    clock.now += 100
    module.v2_playbook_on_stats(None)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "icperf: 3 tests (0 already done), estimated 0h02m",
        "icperf: test 1/3 a (ETA 0h02m)",
        "icperf: test 2/3 b (ETA 0h07m)",
        "icperf: 2 tests run in 0h05m",
    ]


def test_callback_warns_on_bad_facts_and_goes_on(
    callback: tuple[CallbackModule, FakeClock], capsys: pytest.CaptureFixture[str]
) -> None:
    module, _ = callback
    module.v2_runner_on_ok(fact_result({"icperf_plan": {"total": "many"}}))
    module.v2_runner_on_ok(fact_result({"icperf_progress": {"index": 1, "total": 1, "id": "a"}}))
    captured = capsys.readouterr()
    assert "icperf.lab.progress: icperf_plan.total: 'many' is not a count" in captured.err
    assert captured.out.splitlines() == ["icperf: test 1/1 a (ETA unknown)"]


def test_callback_prints_each_icperf_warning(
    callback: tuple[CallbackModule, FakeClock], capsys: pytest.CaptureFixture[str]
) -> None:
    module, _ = callback
    lines = ["a/32/ovs/64/1: busy pollers share cores", "b/32/ovs/64/1: busy pollers share"]
    module.v2_runner_on_ok(fact_result({"icperf_warnings": lines}))
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if "icperf: " in line] == [
        f"[WARNING]: icperf: {line}" for line in lines
    ]
