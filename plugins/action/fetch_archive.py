"""Action plugin: bring a tar file from the managed host and unpack it on the controller.

Its documentation is in plugins/modules/fetch_archive.py, as for any action-only module.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


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
