"""Jinja2 filters of the vswitch_snabb and vswitch_vpp roles; each filter's documentation is
in <filter name>.yml.

The logic lives in plugins/module_utils/snabbconf.py and vppconf.py (plain Python,
unit-tested without Ansible); these wrappers only turn its input errors into
AnsibleFilterError, keeping the message, which starts with the name of the variable at
fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils import snabbconf, vppconf
from ansible_collections.icperf.lab.plugins.plugin_utils.filters import input_filter as _filter


class FilterModule:
    """icperf.lab filters of the Snabb and VPP switch roles."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "snabb_config": _filter(snabbconf.snabb_config),
            "snabb_check_plans": _filter(snabbconf.snabb_check_plans),
            "snabb_port_counters": _filter(snabbconf.snabb_port_counters),
            "vpp_plan": _filter(vppconf.vpp_plan),
            "vpp_exec_commands": _filter(vppconf.vpp_exec_commands),
            "vpp_interface_counters": _filter(vppconf.vpp_interface_counters),
        }
