# Copyright: icperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules that provision a lab host (module_utils/hostmodule.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # icperf.lab.host: every such module.
    DOCUMENTATION = r"""
options:
  var_prefix:
    description: Put in front of parameter names in error messages (a role passes its prefix).
    type: str
    default: ""
attributes:
  check_mode:
    support: full
"""

    # icperf.lab.host.roots: the modules that read the kernel's view of the host.
    ROOTS = r"""
options:
  proc_root:
    description: Where procfs is mounted; unit tests point it at a fake tree.
    type: path
    default: /proc
  sys_root:
    description: Where sysfs is mounted; unit tests point it at a fake tree.
    type: path
    default: /sys
"""
