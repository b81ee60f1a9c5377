"""Documentation of lxc_test's `cpu` option (CPU time during the steady window)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  cpu:
    description:
      - With C(state=run), the CPU time of every applet, the switch process and the cores
        during the senders' steady window (seconds I(warmup) to I(duration) - I(cooldown)
        of their run), returned as C(cpu); a counter that cannot be read gives C(cpu.error).
    type: dict
    suboptions:
      warmup:
        description: Seconds of the senders' run before the window (the analysis' warm-up).
        type: int
        default: 5
      cooldown:
        description: Seconds of the senders' run after the window (the analysis' shutdown).
        type: int
        default: 5
      cores:
        description: Cores the applets and the switch use (their times are summed).
        type: list
        elements: int
        default: []
      switch_pid_file:
        description: Pid file of the switch process; empty for a kernel switch.
        type: str
        default: ""
      switch_name:
        description: Name the switch process is recorded under.
        type: str
        default: ""
      pmd_stats:
        description: Command printing poll-mode thread counters as C(ovs-appctl
          dpif-netdev/pmd-stats-show) does; empty for none.
        type: list
        elements: str
        default: []
      proc_root:
        description: Where proc is mounted.
        type: path
        default: /proc
"""
