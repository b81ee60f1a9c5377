#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.icperf.lab.plugins.module_utils.savedstate import (
    FILES_KEY,
    SavedStateError,
    match_files,
    merge_saved,
    read_state,
    read_value,
    remove_state,
    write_state,
    write_value,
)

DOCUMENTATION = r"""
module: saved_state
short_description: Save what a role must put back, once, and put kernel files back
author: icperf contributors
description:
  - Keeps, in a JSON state file on the host, the values a role must restore later. Only
    the first apply or start saves a value; later ones keep it, so a run interrupted
    between apply and restore is restored by the next run to the values found before the
    first one, not to the test's values.
  - With O(state=present), O(values) are merged into the state file; a key already saved
    keeps its value, mappings merge key by key, so a mapping of items set to true works
    as a set that later calls extend.
  - O(files) sets kernel files (sysfs, /proc/sys), saving their contents under the key
    C(files) before the first write. O(state=absent) writes those contents back, then
    removes the state file.
  - No state file is written when there is nothing to save.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  path:
    description: The state file. Its directory is created when missing.
    type: path
    required: true
  state:
    description:
      - V(present) saves O(values) and the previous contents of O(files) (keeping what is
        saved already) and writes O(files).
      - V(query) only reads the state file.
      - V(absent) writes the saved C(files) back and removes the state file; the role puts
        back the other values before.
    type: str
    choices: [present, query, absent]
    default: present
  values:
    description: Values to save unless already saved, with O(state=present).
    type: dict
    default: {}
  files:
    description:
      - Kernel files to set, with O(state=present), as {path or glob pattern, relative to
        O(root) unless absolute, value}. Only existing writable files are touched; a
        pattern matching nothing is skipped.
    type: dict
    default: {}
  root:
    description: Directory that relative O(files) keys are found in.
    type: path
"""

EXAMPLES = r"""
- name: Turn the br_netfilter hooks off, saving their values the first time
  icperf.lab.saved_state:
    path: /var/lib/icperf/linux_bridge.sysctl.json
    root: /proc/sys
    files:
      net/bridge/bridge-nf-call-iptables: "0"

- name: Record which daemons ran before the first start
  icperf.lab.saved_state:
    path: /var/lib/icperf/vswitch_ovs.json
    values:
      ovsdb_was_running: false
      bridges:
        icperf-br0: true

- name: Read what start saved
  icperf.lab.saved_state:
    path: /var/lib/icperf/vswitch_ovs.json
    state: query
  register: saved

- name: Write the saved kernel values back and forget the state
  icperf.lab.saved_state:
    path: /var/lib/icperf/linux_bridge.sysctl.json
    state: absent
"""

RETURN = r"""
saved:
  description:
    - The saved state after the call (V(present)), as found (V(query)), or as it was
      before its removal (V(absent)); empty when there is no state file.
  returned: always
  type: dict
  sample: {"files": {"/proc/sys/net/bridge/bridge-nf-call-iptables": "1"}}
existed:
  description: Whether the state file existed before the call.
  returned: always
  type: bool
files:
  description:
    - With V(present), the kernel files matched and the value each holds now; with
      V(absent), the files written back and the value each holds now.
  returned: always
  type: dict
  sample: {"/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance"}
"""

class SavedState:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.path = module.params["path"]
        self.check_mode = module.check_mode
        self.changed = False
        self.files: dict[str, str] = {}
        found = read_state(self.path)
        self.existed = found is not None
        self.saved: dict[str, object] = found or {}

    def present(self, values: dict[str, object], files: dict[str, object], root: str | None):
        wanted = match_files(files, root)
        # What a file holds before this call is saved, then written: a later call keeps
        # the first contents saved, which are the ones from before any test.
        now = {path: read_value(path) for path in wanted}
        new = dict(values)
        if now:
            new[FILES_KEY] = now
        merged = merge_saved(self.saved, new)
        if merged != self.saved:
            self.changed = True
            if not self.check_mode:
                write_state(self.path, merged)
            self.saved = merged
        for path, value in wanted.items():
            if now[path] != value:
                self.changed = True
                if not self.check_mode:
                    write_value(path, value)
                    value = read_value(path)
            self.files[path] = value

    def absent(self) -> None:
        saved_files = self.saved.get(FILES_KEY) or {}
        if not isinstance(saved_files, dict):
            raise SavedStateError(f"{self.path}: {FILES_KEY} is not a JSON object")
        for path, value in saved_files.items():
            # A knob that went away (a cpufreq policy, an unloaded module) has nothing to
            # put back; the others must be back before the state is forgotten.
            if not os.path.exists(path):
                self.module.warn(f"{path} no longer exists: its value {value!r} is not put back")
                continue
            if read_value(path) != str(value):
                self.changed = True
                if not self.check_mode:
                    write_value(path, str(value))
            self.files[path] = str(value)
        if self.existed:
            self.changed = True
            if not self.check_mode:
                remove_state(self.path)

    @property
    def result(self) -> dict[str, object]:
        return {
            "changed": self.changed,
            "saved": self.saved,
            "existed": self.existed,
            "files": self.files,
        }


def build_module() -> AnsibleModule:
    return AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {
                "type": "str",
                "default": "present",
                "choices": ["present", "query", "absent"],
            },
            "values": {"type": "dict", "default": {}},
            "files": {"type": "dict", "default": {}},
            "root": {"type": "path"},
        },
        supports_check_mode=True,
    )


def main() -> None:
    module = build_module()
    try:
        state = SavedState(module)
        if module.params["state"] == "present":
            state.present(module.params["values"], module.params["files"], module.params["root"])
        elif module.params["state"] == "absent":
            state.absent()
    except SavedStateError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**state.result)


if __name__ == "__main__":
    main()
