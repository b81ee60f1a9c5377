#!/usr/bin/python
# Copyright: icperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DKMS modules built and installed for a kernel (after a kernel upgrade)."""

from __future__ import annotations

import os
import re

from ansible_collections.icperf.lab.plugins.module_utils import hostmodule
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

DOCUMENTATION = r"""
---
module: dkms_modules
short_description: Build and install the DKMS modules a kernel lacks (after a kernel upgrade)
version_added: "0.2.0"
description:
  - Reads C(dkms status -k <kernel>) and, for each module of O(modules) (every module DKMS
    knows when empty) that is not installed for O(kernel), runs C(dkms install) for that
    kernel, then reads C(dkms status -k <kernel>) again and fails unless every one is
    installed.
  - DKMS builds against the kernel's headers, C(/lib/modules/<kernel>/build); without them the
    module fails before it builds anything, naming the package to install
    (C(linux-headers-<kernel>) on Debian and Ubuntu). In check mode it only reports what is
    missing and whether the headers are there (RV(headers)).
  - A host without DKMS has nothing to build when O(modules) is empty; naming modules there,
    or a module DKMS does not know, is refused naming the parameter with O(var_prefix) in front.
author:
  - icperf contributors
options:
  modules:
    description:
      - DKMS module names (C(PACKAGE_NAME) of their C(dkms.conf), such as C(dpdk-kmods) for
        Debian's igb_uio). Empty means every module DKMS knows.
    type: list
    elements: str
    default: []
  kernel:
    description: The kernel release to build for; empty means the running kernel (C(uname -r)).
    type: str
    default: ""
  modules_root:
    description: Where each kernel's modules and C(build) headers link are.
    type: path
    default: /lib/modules
extends_documentation_fragment:
  - icperf.lab.host
attributes:
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Rebuild every DKMS module for the running kernel
  icperf.lab.dkms_modules:

- name: See what a kernel still lacks, without building
  icperf.lab.dkms_modules:
    modules: [dpdk-kmods]
    kernel: 6.12.95+deb12-amd64
  check_mode: true
  register: dkms
"""

RETURN = r"""
kernel:
  description: The kernel release the modules were checked or built for.
  returned: always
  type: str
  sample: 6.12.95+deb12-amd64
missing:
  description: C(name/version) of the modules that were not installed for the kernel at the start.
  returned: always
  type: list
  elements: str
  sample: [dpdk-kmods/0~20220829+git]
built:
  description: C(name/version) of the modules this run built and installed.
  returned: always
  type: list
  elements: str
installed:
  description: C(name/version) of the wanted modules installed for the kernel at the end.
  returned: always
  type: list
  elements: str
headers:
  description: Whether the kernel's headers are there (C(/lib/modules/<kernel>/build)).
  returned: always
  type: bool
"""

# dkms 3: "name/version, kernel, arch: state" or "name/version: added";
# dkms 2: "name, version, kernel, arch: state". A warning may follow in parentheses.
STATUS_RE = re.compile(r"^(?P<fields>[^:]+):\s*(?P<state>[a-z]+)")


def parse_status(text):
    """dkms status -> [(name, version, kernel or None, state)]."""
    entries = []
    for line in text.splitlines():
        match = STATUS_RE.match(line.strip())
        if not match:
            continue
        fields = [field.strip() for field in match.group("fields").split(",")]
        if "/" in fields[0]:
            name, version = fields[0].split("/", 1)
            rest = fields[1:]
        elif len(fields) >= 2:
            name, version = fields[0], fields[1]
            rest = fields[2:]
        else:
            continue
        kernel = rest[0] if rest else None
        entries.append((name, version, kernel, match.group("state")))
    return entries


class DkmsModules(hostmodule.HostModule):
    """Reads dkms status, builds what a kernel lacks; the module's logic without Ansible's I/O."""

    def __init__(self, module):
        super().__init__(module)
        self.kernel = self.params["kernel"] or os.uname().release
        self.dkms = module.get_bin_path("dkms")

    def status(self):
        """dkms status for the kernel only: its modules' states, and the others as added.

        dkms checks every module it lists for every kernel, slowly: one kernel is enough.
        """
        _, out = self.command(["dkms", "status", "-k", self.kernel], tail=1000)
        return parse_status(out)

    def wanted(self, entries):
        """(name, version) pairs to have installed for the kernel."""
        known = {}
        for name, version, _, _ in entries:
            known.setdefault(name, [])
            if version not in known[name]:
                known[name].append(version)
        names = self.params["modules"] or sorted(known)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise IcperfInputError(
                f"{self.name('modules')}: {', '.join(unknown)} "
                f"{'is not a DKMS module' if len(unknown) == 1 else 'are not DKMS modules'} of "
                f"this host (DKMS knows {', '.join(sorted(known)) or 'none'})"
            )
        return [(name, version) for name in names for version in known[name]]

    def installed(self, entries):
        return {
            (name, version)
            for name, version, kernel, state in entries
            if kernel == self.kernel and state == "installed"
        }

    def headers(self):
        return os.path.isdir(os.path.join(self.params["modules_root"], self.kernel, "build"))

    def run(self):
        result = {
            "changed": False,
            "kernel": self.kernel,
            "missing": [],
            "built": [],
            "installed": [],
            "headers": self.headers(),
        }
        if self.dkms is None:
            if self.params["modules"]:
                raise IcperfInputError(
                    f"{self.name('modules')}: {', '.join(self.params['modules'])} asked, but "
                    "this host has no DKMS (the dkms package)"
                )
            return result
        entries = self.status()
        wanted = self.wanted(entries)
        installed = self.installed(entries)
        missing = [pair for pair in wanted if pair not in installed]
        result["missing"] = [f"{name}/{version}" for name, version in missing]
        result["installed"] = [
            f"{name}/{version}" for name, version in wanted if (name, version) in installed
        ]
        if not missing:
            return result
        result["changed"] = True
        if self.module.check_mode:
            return result
        if not result["headers"]:
            raise RuntimeError(
                f"dkms: kernel {self.kernel} has no headers "
                f"({os.path.join(self.params['modules_root'], self.kernel, 'build')}): install "
                f"linux-headers-{self.kernel} to build {', '.join(result['missing'])}"
            )
        for name, version in missing:
            self.command(["dkms", "install", "-m", name, "-v", version, "-k", self.kernel])
            result["built"].append(f"{name}/{version}")
        installed = self.installed(self.status())
        still = [
            f"{name}/{version}" for name, version in missing if (name, version) not in installed
        ]
        if still:
            raise RuntimeError(
                f"dkms: {', '.join(still)} still not installed for {self.kernel} after dkms install"
            )
        result["installed"] = [f"{name}/{version}" for name, version in wanted]
        return result


ARGUMENT_SPEC = hostmodule.argument_spec(
    {
        "modules": {"type": "list", "elements": "str", "default": []},
        "kernel": {"type": "str", "default": ""},
        "modules_root": {"type": "path", "default": "/lib/modules"},
    },
    roots=False,
)


def main():
    hostmodule.run_module(ARGUMENT_SPEC, DkmsModules)


if __name__ == "__main__":
    main()
