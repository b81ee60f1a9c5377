"""Jinja2 filters of the icperf.lab roles; each filter's documentation is in <filter name>.yml.

The logic lives in plugins/module_utils/dpdkconf.py and sriovconf.py (plain Python,
unit-tested without Ansible); these wrappers only turn its input errors into
AnsibleFilterError, keeping the message, which starts with the name of the variable at
fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils import dpdkconf, sriovconf
from ansible_collections.icperf.lab.plugins.plugin_utils.filters import input_filter as _filter


class FilterModule:
    """icperf.lab filters of the switch and memory roles: pairs, argv, masks, plans."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "basicfwd_plan": _filter(dpdkconf.basicfwd_plan),
            "testpmd_argv": _filter(dpdkconf.testpmd_argv),
            "hugepages_meminfo": _filter(dpdkconf.hugepages_meminfo),
            "use_hugepages": _filter(dpdkconf.use_hugepages),
            "hugepages_plan": _filter(dpdkconf.hugepages_plan),
            "ovs_other_config": _filter(dpdkconf.ovs_other_config),
            "ovs_status": _filter(dpdkconf.ovs_status),
            "ovs_config_args": _filter(dpdkconf.ovs_config_args),
            "ovs_daemon_ops": _filter(dpdkconf.ovs_daemon_ops),
            "ovs_start_plan": _filter(dpdkconf.ovs_start_plan),
            "ovs_stop_plan": _filter(dpdkconf.ovs_stop_plan),
            "ovs_bridge_argv": _filter(dpdkconf.ovs_bridge_argv),
            "sriov_counter_deltas": _filter(sriovconf.counter_deltas),
            "sriov_test_vfs": _filter(sriovconf.vfs_for_test),
            "sriov_vf_settings": _filter(sriovconf.vf_settings),
            "sriov_wire_ports": _filter(sriovconf.wire_ports),
        }
