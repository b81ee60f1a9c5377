#!/usr/bin/python
# Copyright: icperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel command line of a lab host through a GRUB drop-in."""

from __future__ import annotations

import os
import re

from ansible_collections.icperf.lab.plugins.module_utils import hostmodule
from ansible_collections.icperf.lab.plugins.module_utils.cores import parse_cpu_list
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

DOCUMENTATION = r"""
---
module: kernel_cmdline
short_description: Put a lab host's kernel arguments on its GRUB command line
version_added: "0.2.0"
description:
  - Writes the kernel arguments a lab host needs (boot-time hugepages of 1 GB and 2 MB, the
    IOMMU, isolated cores) into a drop-in file in C(/etc/default/grub.d/), appended to
    C(GRUB_CMDLINE_LINUX_DEFAULT) (the default boot entries, not the recovery ones), and runs
    C(update-grub) when the drop-in changed or the generated C(grub.cfg) lacks them.
  - Compares the arguments with the running kernel's command line, read from
    C(/proc/cmdline), and returns RV(reboot_required). The module never reboots the host.
  - Refuses bad input before it changes anything, naming the parameter with O(var_prefix) in
    front, so that a role's error names the role's variable. Refused are more hugepages than
    the host's memory, 1 GB pages on a CPU without C(pdpe1gb), an unknown IOMMU vendor, and
    isolated cores the host does not have or that include core 0.
  - The drop-in is named so that it sorts after numbered drop-ins (C(50-cloudimg-settings.cfg)
    on Ubuntu cloud images sets C(GRUB_CMDLINE_LINUX_DEFAULT) outright).
author:
  - icperf contributors
options:
  state:
    description:
      - V(present) writes the drop-in; V(absent) removes it (and regenerates C(grub.cfg)).
    type: str
    choices: [present, absent]
    default: present
  hugepages_1g:
    description: Number of 1 GB pages reserved at boot (C(hugepagesz=1G hugepages=N)).
    type: int
    default: 0
  hugepages_2m:
    description: Number of 2 MB pages reserved at boot (C(hugepagesz=2M hugepages=N)).
    type: int
    default: 0
  hugepages_default_size:
    description:
      - Page size of hugetlbfs mounts that do not name one (C(default_hugepagesz)); empty
        leaves the kernel's default (2 MB on x86).
    type: str
    choices: ["", 1G, 2M]
    default: ""
  iommu:
    description:
      - V(intel) adds C(intel_iommu=on); V(amd) adds nothing vendor-specific (the AMD IOMMU
        is on by default when the firmware describes it); V(none) leaves the IOMMU alone.
    type: str
    choices: [none, intel, amd]
    default: none
  iommu_passthrough:
    description:
      - With an IOMMU, add C(iommu=pt) (identity mapping for devices the host's own drivers
        keep; devices given to vfio-pci are translated).
    type: bool
    default: true
  isolated_cores:
    description:
      - CPUs taken away from the scheduler, timer ticks and RCU callbacks, as a list or a
        cpulist string (C(2-3,6)). Core 0 stays with the system. Empty isolates nothing.
    type: raw
    default: ""
  isolation:
    description: Which isolation arguments the isolated cores are written to.
    type: list
    elements: str
    choices: [isolcpus, nohz_full, rcu_nocbs]
    default: [isolcpus, nohz_full, rcu_nocbs]
  extra_args:
    description: Further arguments appended as they are (no blanks or quotes inside one).
    type: list
    elements: str
    default: []
  min_free_mb:
    description: Memory in MB that hugepages must leave to the system.
    type: int
    default: 512
  dropin:
    description: The drop-in file.
    type: path
    default: /etc/default/grub.d/icperf.cfg
  grub_cfg:
    description: The generated GRUB configuration whose first C(linux) line is checked.
    type: path
    default: /boot/grub/grub.cfg
  update_command:
    description: Command that regenerates O(grub_cfg) from C(/etc/default/grub*).
    type: list
    elements: str
    default: [update-grub]
extends_documentation_fragment:
  - icperf.lab.host
  - icperf.lab.host.roots
attributes:
  diff_mode:
    support: full
notes:
  - Verify the arguments after the reboot against C(/proc/cmdline) itself (RV(missing) of a
    run in check mode), not against Ansible's C(cmdline) fact, which keeps only the last
    value of a repeated key such as C(hugepagesz).
"""

EXAMPLES = r"""
- name: Reserve 1 GB and 2 MB pages at boot and turn the Intel IOMMU on
  icperf.lab.kernel_cmdline:
    hugepages_1g: 2
    hugepages_2m: 512
    iommu: intel
  register: cmdline

- name: Reboot when the running kernel lacks an argument
  ansible.builtin.reboot:
  when: cmdline.reboot_required

- name: Isolate cores 2 and 3 for the switch and the containers
  icperf.lab.kernel_cmdline:
    isolated_cores: 2-3
    isolation: [isolcpus, nohz_full, rcu_nocbs]

- name: Take icperf's arguments off the command line again
  icperf.lab.kernel_cmdline:
    state: absent
"""

RETURN = r"""
args:
  description: The arguments the drop-in appends, in order.
  returned: always
  type: list
  elements: str
  sample: [hugepagesz=1G, hugepages=2, intel_iommu=on, iommu=pt]
cmdline:
  description: The running kernel's command line (C(/proc/cmdline)).
  returned: always
  type: str
missing:
  description:
    - Arguments the running kernel lacks (a pair such as C(hugepagesz=1G hugepages=2) is one item).
  returned: always
  type: list
  elements: str
stale:
  description: Arguments the drop-in no longer holds that the running kernel still has.
  returned: always
  type: list
  elements: str
reboot_required:
  description: The running kernel's command line differs from the one GRUB now boots.
  returned: always
  type: bool
grub_updated:
  description: The update command ran (or would have, in check mode).
  returned: always
  type: bool
dropin:
  description: Path of the drop-in.
  returned: always
  type: str
kernel:
  description:
    - What the running kernel made of its arguments, read from sysfs.
  returned: always
  type: dict
  contains:
    hugepages:
      description: Pages reserved per page size in kB (C(nr_hugepages)).
      type: dict
      sample: {"1048576": 2, "2048": 512}
    iommus:
      description: IOMMUs the kernel drives (C(/sys/class/iommu)).
      type: list
      elements: str
      sample: [dmar0]
    isolated:
      description: Isolated CPUs (C(/sys/devices/system/cpu/isolated)), a cpulist.
      type: str
      sample: 2-3
"""

GIB_KB = 1024 * 1024
MIB_KB = 1024
ISOLATION = ("isolcpus", "nohz_full", "rcu_nocbs")
DROPIN_HEADER = (
    "# Managed by icperf.lab.kernel_cmdline: kernel arguments of a lab host.\n"
    "# Changes are overwritten; set them in the role's variables instead.\n"
)
DROPIN_LINE_RE = re.compile(r'^GRUB_CMDLINE_LINUX_DEFAULT="\$GRUB_CMDLINE_LINUX_DEFAULT ?(.*)"$')
SAFE_ARG_RE = re.compile(r"^[^\s\"'`$\\]+$")


def _cpulist(cpus):
    """[1, 2, 3, 5] -> '1-3,5'."""
    ranges = []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def _contains(tokens, group):
    """Whether the words of ``group`` appear next to each other, in order, in ``tokens``."""
    size = len(group)
    return any(tuple(tokens[i : i + size]) == group for i in range(len(tokens) - size + 1))


def first_linux_args(grub_cfg):
    """The kernel arguments of a grub.cfg's first ``linux`` line (the default entry), or None."""
    for line in grub_cfg.splitlines():
        words = line.split()
        if words and words[0] in ("linux", "linux16", "linuxefi"):
            return words[2:]
    return None


class KernelCmdline(hostmodule.HostModule):
    """Works out, writes and checks the drop-in; the module's logic without Ansible's I/O."""

    def __init__(self, module):
        super().__init__(module)
        self.dropin = self.params["dropin"]
        self.grub_cfg = self.params["grub_cfg"]

    # -- reading the host ------------------------------------------------------------------

    def running_cmdline(self):
        return self.read(self.proc("cmdline")).strip()

    def kernel_state(self):
        """What the running kernel made of its arguments, from sysfs."""
        hugepages = {}
        base = self.sys("kernel/mm/hugepages")
        for entry in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            match = re.match(r"^hugepages-(\d+)kB$", entry)
            if match:
                count = self.value(os.path.join(base, entry, "nr_hugepages"))
                hugepages[match.group(1)] = int(count or 0)
        iommu_dir = self.sys("class/iommu")
        iommus = sorted(os.listdir(iommu_dir)) if os.path.isdir(iommu_dir) else []
        isolated = self.value(self.sys("devices/system/cpu/isolated"))
        return {"hugepages": hugepages, "iommus": iommus, "isolated": isolated}

    def mem_total_kb(self):
        match = re.search(r"^MemTotal:\s+(\d+) kB", self.read(self.proc("meminfo")), re.M)
        if not match:
            raise IcperfInputError(f"{self.proc('meminfo')} has no MemTotal")
        return int(match.group(1))

    def cpu_flags(self):
        match = re.search(r"^flags\s*:(.*)$", self.read(self.proc("cpuinfo")), re.M)
        return set(match.group(1).split()) if match else set()

    def present_cpus(self):
        text = self.read(self.sys("devices/system/cpu/present")).strip()
        return parse_cpu_list(text, "devices/system/cpu/present")

    def old_args(self):
        """Arguments of the drop-in on the host now ([] when absent or not ours)."""
        for line in self.read(self.dropin, "").splitlines():
            match = DROPIN_LINE_RE.match(line.strip())
            if match:
                return match.group(1).split()
        return []

    def grub_linux_tokens(self):
        """Words of the first ``linux`` line of grub.cfg (the default entry), or None."""
        return first_linux_args(self.read(self.grub_cfg, ""))

    # -- what is asked ------------------------------------------------------------------------

    def _count(self, option):
        value = self.params[option]
        if value < 0:
            raise IcperfInputError(f"{self.name(option)}: {value} must be 0 or more")
        return value

    def wanted_groups(self):
        """Check the parameters against the host; return the argument groups, in order.

        A group is a tuple of words that must follow each other on the command line
        (``hugepages=`` applies to the ``hugepagesz=`` before it).
        """
        params = self.params
        groups = []
        if params["state"] == "absent":
            return groups
        pages_1g = self._count("hugepages_1g")
        pages_2m = self._count("hugepages_2m")
        if pages_1g and "pdpe1gb" not in self.cpu_flags():
            raise IcperfInputError(
                f"{self.name('hugepages_1g')}: {pages_1g} pages of 1 GB asked, but this CPU has "
                "no 1 GB pages (no pdpe1gb in /proc/cpuinfo); use hugepages_2m"
            )
        if pages_1g or pages_2m:
            asked_kb = pages_1g * GIB_KB + pages_2m * 2 * MIB_KB
            total_kb = self.mem_total_kb()
            free_kb = self._count("min_free_mb") * MIB_KB
            if asked_kb + free_kb > total_kb:
                names = [
                    self.name(option)
                    for option, count in (("hugepages_1g", pages_1g), ("hugepages_2m", pages_2m))
                    if count
                ]
                raise IcperfInputError(
                    f"{', '.join(names)}: {pages_1g} x 1 GB + {pages_2m} x 2 MB pages = "
                    f"{asked_kb // MIB_KB} MB do not fit in this host's {total_kb // MIB_KB} MB "
                    f"of memory with {free_kb // MIB_KB} MB left to the system"
                )
        default_size = params["hugepages_default_size"] or ""
        if default_size not in ("", "1G", "2M"):
            raise IcperfInputError(
                f"{self.name('hugepages_default_size')}: {default_size!r} is not 1G or 2M"
            )
        if default_size:
            groups.append((f"default_hugepagesz={default_size}",))
        if pages_1g:
            groups.append(("hugepagesz=1G", f"hugepages={pages_1g}"))
        if pages_2m:
            groups.append(("hugepagesz=2M", f"hugepages={pages_2m}"))

        iommu = params["iommu"]
        if iommu not in ("none", "intel", "amd"):
            raise IcperfInputError(
                f"{self.name('iommu')}: {iommu!r} is not an IOMMU vendor (intel, amd or none)"
            )
        if iommu == "intel":
            groups.append(("intel_iommu=on",))
        if iommu != "none" and params["iommu_passthrough"]:
            groups.append(("iommu=pt",))

        isolated = self.isolated_cores()
        if isolated:
            unknown = [kind for kind in params["isolation"] if kind not in ISOLATION]
            if unknown:
                raise IcperfInputError(
                    f"{self.name('isolation')}: {', '.join(unknown)} not one of "
                    f"{', '.join(ISOLATION)}"
                )
            for kind in ISOLATION:
                if kind in params["isolation"]:
                    groups.append((f"{kind}={_cpulist(isolated)}",))

        for arg in params["extra_args"]:
            if not SAFE_ARG_RE.match(arg):
                raise IcperfInputError(
                    f"{self.name('extra_args')}: {arg!r} has a blank, a quote, $ or \\ in it"
                )
            groups.append((arg,))
        return groups

    def isolated_cores(self):
        value = self.params["isolated_cores"]
        if value in (None, "", []):
            return []
        name = self.name("isolated_cores")
        cores = parse_cpu_list(value, name)
        present = self.present_cpus()
        absent = [core for core in cores if core not in present]
        if absent:
            raise IcperfInputError(
                f"{name}: {_cpulist(absent)} not on this host (its CPUs are {_cpulist(present)})"
            )
        if 0 in cores:
            raise IcperfInputError(f"{name}: core 0 stays with the system; isolate others")
        return cores

    # -- doing it -----------------------------------------------------------------------------

    @staticmethod
    def dropin_content(args):
        line = f'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT {" ".join(args)}"'
        return f"{DROPIN_HEADER}{line}\n"

    def run(self):
        groups = self.wanted_groups()
        args = [word for group in groups for word in group]
        wanted_words = set(args)
        old = self.old_args()
        old_content = self.read(self.dropin, "")
        absent = self.params["state"] == "absent"
        new_content = "" if absent else self.dropin_content(args)
        dropin_changes = (old_content != "") if absent else (old_content != new_content)
        # Words icperf put there before and no longer wants: a sign grub.cfg or the running
        # kernel is out of date.
        dropped = [word for word in old if word not in wanted_words]

        grub_words = self.grub_linux_tokens()
        if grub_words is None:
            grub_ok = not groups
        else:
            grub_ok = all(_contains(grub_words, group) for group in groups) and not any(
                word in grub_words for word in dropped
            )
        update = dropin_changes or not grub_ok

        check = self.module.check_mode
        if dropin_changes and not check:
            if absent:
                os.remove(self.dropin)
            else:
                self.write_file(self.dropin, new_content)
        if update and not check:
            self.command(self.params["update_command"])
            grub_words = self.grub_linux_tokens() or []
            lacking = [" ".join(g) for g in groups if not _contains(grub_words, g)]
            if lacking:
                raise RuntimeError(
                    f"{self.grub_cfg}: its first linux line lacks {', '.join(lacking)} after "
                    f"{' '.join(self.params['update_command'])}: another file in "
                    "/etc/default/grub.d/ or /etc/default/grub may set "
                    "GRUB_CMDLINE_LINUX_DEFAULT after this drop-in, or GRUB_DEFAULT is not 0"
                )

        running = self.running_cmdline()
        running_words = running.split()
        missing = [" ".join(group) for group in groups if not _contains(running_words, group)]
        stale = [word for word in dropped if word in running_words]
        result = {
            "changed": dropin_changes or update,
            "args": args,
            "cmdline": running,
            "missing": missing,
            "stale": stale,
            "reboot_required": bool(missing or stale),
            "grub_updated": update,
            "dropin": self.dropin,
            "kernel": self.kernel_state(),
        }
        if self.module._diff:
            result["diff"] = {
                "before_header": self.dropin,
                "after_header": self.dropin,
                "before": old_content,
                "after": new_content,
            }
        return result


ARGUMENT_SPEC = hostmodule.argument_spec(
    {
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "hugepages_1g": {"type": "int", "default": 0},
        "hugepages_2m": {"type": "int", "default": 0},
        "hugepages_default_size": {"type": "str", "default": ""},
        "iommu": {"type": "str", "default": "none"},
        "iommu_passthrough": {"type": "bool", "default": True},
        "isolated_cores": {"type": "raw", "default": ""},
        "isolation": {"type": "list", "elements": "str", "default": list(ISOLATION)},
        "extra_args": {"type": "list", "elements": "str", "default": []},
        "min_free_mb": {"type": "int", "default": 512},
        "dropin": {"type": "path", "default": "/etc/default/grub.d/icperf.cfg"},
        "grub_cfg": {"type": "path", "default": "/boot/grub/grub.cfg"},
        "update_command": {"type": "list", "elements": "str", "default": ["update-grub"]},
    },
    roots=True,
)


def main():
    hostmodule.run_module(ARGUMENT_SPEC, KernelCmdline)


if __name__ == "__main__":
    main()
