"""Action plugin: bring a tar file from the managed host and unpack it on the controller."""

from __future__ import annotations

import os
import tarfile
import tempfile
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

DOCUMENTATION = r"""
module: fetch_archive
short_description: Fetch a tar file from the managed host and unpack it on the controller
description:
  - Copies I(src) from the managed host over the connection (no module runs on the host)
    and unpacks its members into I(dest) on the controller, which is created if needed.
  - Only plain files whose names hold no directory part are accepted; anything else in the
    archive fails the task before a file is written.
  - Used for a test's logs, packed by M(icperf.lab.lxc_test) with C(state=collected): one
    transfer per test however many containers it has.
version_added: "0.2.0"
author: icperf contributors
options:
  src:
    description: Path of the tar file on the managed host.
    type: path
    required: true
  dest:
    description: Directory on the controller.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Fetch the logs
  icperf.lab.fetch_archive:
    src: /var/lib/icperf/run/icp0/logs.tar
    dest: "{{ results_dir }}/{{ test.path }}"
"""

RETURN = r"""
files:
  description: Names of the files written into I(dest).
  returned: success
  type: list
  elements: str
"""


def unpack(archive: str, dest: str) -> list[str]:
    """Write the archive's plain files into ``dest``; refuse anything else."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            name = member.name
            if not member.isfile() or "/" in name or name in ("", ".", ".."):
                raise AnsibleActionFail(f"src: {name!r} is not a plain file name")
        os.makedirs(dest, exist_ok=True)
        for member in members:
            source = tar.extractfile(member)
            assert source is not None  # isfile() above
            with open(os.path.join(dest, member.name), "wb") as target:
                target.write(source.read())
    return [member.name for member in members]


class ActionModule(ActionBase):
    """fetch_archive: one transfer, unpacked on the controller."""

    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(("src", "dest"))

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        src, dest = self._task.args.get("src"), self._task.args.get("dest")
        if not src or not dest:
            raise AnsibleActionFail("src and dest are required")
        if self._play_context.check_mode:
            result.update(changed=True, files=[])
            return result
        with tempfile.TemporaryDirectory(prefix="icperf-fetch-") as local:
            archive = os.path.join(local, "archive.tar")
            self._connection.fetch_file(src, archive)
            files = unpack(archive, os.path.expanduser(dest))
        result.update(changed=True, files=files)
        return result
