"""Jinja2 filters of the rate search (testset.yml -e search=ndr,pdr); each filter's
documentation is in <filter name>.yml here.

The logic lives in plugins/module_utils/ratesearch.py and searchplan.py (plain Python,
unit-tested without Ansible); these wrappers only turn its input errors into
AnsibleFilterError, keeping the message, which starts with the name of the variable at
fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils import ratesearch, searchplan
from ansible_collections.icperf.lab.plugins.plugin_utils.filters import input_filter as _filter


class FilterModule:
    """icperf.lab filters of the rate search: parameters, next trial, trial plan, outcome."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "check_search": _filter(searchplan.check_search),
            "search_configs": _filter(searchplan.search_configs),
            "search_next": _filter(ratesearch.next_step),
            "search_trial": _filter(searchplan.search_trial),
            "search_outcome": _filter(searchplan.trial_outcome),
        }
