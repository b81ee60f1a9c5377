"""Jinja2 filters of the tests across several lab hosts; each filter's documentation is in
<filter name>.yml.

The logic lives in plugins/module_utils/hostruns.py (plain Python, unit-tested without
Ansible); these wrappers only turn its input errors into AnsibleFilterError, keeping the
message, which starts with the name of the variable at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils import hostruns
from ansible_collections.icperf.lab.plugins.plugin_utils.filters import input_filter as _filter


class FilterModule:
    """icperf.lab filters of the run play across lab hosts."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "plan_runs": _filter(hostruns.plan_runs),
            "join_records": _filter(hostruns.join_records),
            "wire_delta": _filter(hostruns.wire_delta),
        }
