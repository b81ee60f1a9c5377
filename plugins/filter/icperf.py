"""Jinja2 filters of icperf.lab; each filter's documentation is in <filter name>.yml here.

The logic lives in plugins/module_utils (plain Python, unit-tested without Ansible); these
wrappers only turn its input errors into AnsibleFilterError, keeping the message, which
starts with the name of the variable or field at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils import (
    addresses,
    command,
    identity,
    labfile,
    matrix,
    params,
    plan,
    sequences,
    vswitches,
)
from ansible_collections.icperf.lab.plugins.plugin_utils.filters import input_filter as _filter


def read_lab(path: str) -> object:
    """Read a lab file and validate it; return its content unchanged."""
    content = labfile.load_lab_file(path)
    labfile.parse_lab(content)
    return content


class FilterModule:
    """icperf.lab filters: sequences, parameters, labs, the test matrix, plans and resume."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "expand_sequence": _filter(sequences.expand_sequence),
            "check_test_params": _filter(params.check_test_params),
            "read_lab": _filter(read_lab),
            "lab_containers": _filter(labfile.lab_containers),
            "vswitch_cores": _filter(labfile.vswitch_cores),
            "read_labs": _filter(matrix.read_labs),
            "test_matrix": _filter(matrix.test_matrix),
            "plan_tests": _filter(plan.plan_tests),
            "shared_core_warnings": _filter(plan.shared_core_warnings),
            "resume_plan": _filter(identity.resume_plan),
            "vswitch_traits": _filter(vswitches.vswitch_traits),
            "icperf_command": _filter(command.icperf_command),
            "mac_address": _filter(addresses.mac_address),
            "ip_address": _filter(addresses.ip_address),
        }
