"""Callback printing the progress and ETA of an icperf test set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.plugins.callback import CallbackBase
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.progress import ProgressTracker

DOCUMENTATION = r"""
name: progress
type: aggregate
short_description: Progress and estimated time left of an icperf test set
description:
  - Prints one line when the test set is planned and one line when each test starts,
    with the estimated time left.
  - Reads two facts set on any host with M(ansible.builtin.set_fact)
    C(icperf_plan) (C(total), C(to_run), C(skipped), C(seconds_per_test)) once before the
    first test, and C(icperf_progress) (C(index), C(total), C(id)) at the start of each test.
  - Prints each line of a fact C(icperf_warnings) (a list) as a warning.
  - The estimate is the mean measured duration of the finished tests (the time between two
    successive C(icperf_progress) events) times the tests left; before a test has finished it
    is C(seconds_per_test).
  - Works next to any stdout callback.
author: icperf contributors
requirements:
  - enabled in configuration, e.g. C(callbacks_enabled = icperf.lab.progress) in
    C(ansible.cfg) or C(ANSIBLE_CALLBACKS_ENABLED=icperf.lab.progress)
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = icperf.lab.progress
#
# Output:
# icperf: 24 tests (4 already done), estimated 0h20m
# icperf: test 5/24 64/ovs/64/1000000 (ETA 0h20m)
# icperf: test 6/24 64/ovs/64/2000000 (ETA 0h18m)
"""


def _facts(result: Any) -> Mapping[str, Any]:
    """The ansible_facts of a task result (CallbackTaskResult.result since ansible-core 2.19)."""
    data = getattr(result, "result", None)
    if data is None:
        data = getattr(result, "_result", None)
    facts = data.get("ansible_facts") if isinstance(data, Mapping) else None
    return facts if isinstance(facts, Mapping) else {}


class CallbackModule(CallbackBase):
    """Prints icperf test-set progress lines from the icperf_plan / icperf_progress facts."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "icperf.lab.progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display: Any = None) -> None:
        super().__init__(display=display)
        self.tracker = ProgressTracker()
        # The hosts of a test across hosts each report the same plan and test: shown once.
        self.last_seen: dict[str, Any] = {}

    def v2_runner_on_ok(self, result: Any) -> None:
        self._show(_facts(result))

    def v2_runner_item_on_ok(self, result: Any) -> None:
        # A looped set_fact reports its facts per item; the loop's own result holds none.
        self._show(_facts(result))

    def _show(self, facts: Mapping[str, Any]) -> None:
        try:
            lines: list[str | None] = []
            if "icperf_plan" in facts and self._new("icperf_plan", facts):
                lines.append(self.tracker.on_plan(facts["icperf_plan"]))
            if "icperf_progress" in facts and self._new("icperf_progress", facts):
                lines.append(self.tracker.on_progress(facts["icperf_progress"]))
        except IcperfInputError as error:
            self._display.warning(f"icperf.lab.progress: {error}")
            return
        for line in lines:
            if line is not None:
                self._display.display(line)
        warnings = facts.get("icperf_warnings")
        for warning in warnings if isinstance(warnings, list) else []:
            self._display.warning(f"icperf: {warning}")

    def _new(self, key: str, facts: Mapping[str, Any]) -> bool:
        """Whether ``facts[key]`` differs from the last one shown (another host's copy)."""
        if self.last_seen.get(key) == facts[key]:
            return False
        self.last_seen[key] = facts[key]
        return True

    def v2_playbook_on_stats(self, stats: Any) -> None:
        line = self.tracker.summary()
        if line is not None:
            self._display.display(line)
