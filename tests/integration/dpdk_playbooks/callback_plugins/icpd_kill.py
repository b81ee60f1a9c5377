"""Kill ansible-playbook with SIGKILL right after the Nth role task that changed the host.

The tests use it to interrupt a role after each of its steps, the way a crash, an OOM
kill or a power cut would: the task that was running has finished, the next one never
starts, and no rescue or always section runs. Only tasks that report a change count: one
that only reads or checks leaves the host as the step before it did. Enabled with
ANSIBLE_CALLBACKS_ENABLED=icpd_kill; ICPD_KILL_AFTER=N.
"""

from __future__ import annotations

import os
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: icpd_kill
type: aggregate
short_description: Kill the playbook after the Nth role task (tests only)
description:
  - Sends SIGKILL to ansible-playbook once ICPD_KILL_AFTER role tasks have reported a
    change.
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "icpd_kill"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.after = int(os.environ.get("ICPD_KILL_AFTER", "0"))
        self.done = 0

    def v2_runner_on_ok(self, result) -> None:  # type: ignore[no-untyped-def]
        if self.after <= 0 or getattr(result._task, "_role", None) is None:
            return
        if not result._result.get("changed"):
            return
        self.done += 1
        if self.done >= self.after:
            os.kill(os.getpid(), signal.SIGKILL)
