#!/usr/bin/python
"""Ansible module: the life of one test's LXC containers, in one step per phase."""

from __future__ import annotations

DOCUMENTATION = r"""
module: lxc_test
short_description: Run, stop, collect and remove the containers of one icperf test
description:
  - C(state=run) writes each container's LXC config and argv file, starts the passive
    applets (recv, server), waits until each has written its start record, checks that
    their host veths joined the switch's link, starts the active applets (send, client),
    waits for them to end, stops the passive ones, and fails naming every applet that did
    not exit cleanly.
  - C(state=run) is three phases in one call; a test across two hosts calls them one
    at a time on every host, so that the receivers on one host are ready before the
    senders on the other start, and run until those end: C(state=ready) (configs written,
    passive applets started and ready), C(state=senders) (active applets started and waited
    for; nothing on a host without any), C(state=finished) (passive applets stopped,
    every exit status checked).
  - C(state=stopped) stops whichever of the containers still run (SIGTERM, then SIGKILL
    after I(stop_timeout) seconds); safe when none was ever started.
  - C(state=collected) stops them and writes their logs into one tar file, named as the
    results tree names them (C(<name>.<app>.jsonl), C(.stderr), C(<name>.lxc.log)).
  - C(state=absent) stops them and removes their configs and run directories (never
    C(lxc-destroy), which would delete the rootfs every container shares).
  - C(state=cleanup) does C(state=absent) for every container whose config carries
    icperf's header line, whoever left it.
version_added: "0.2.0"
author: icperf contributors
extends_documentation_fragment:
  - icperf.lab.cpu_sample
options:
  containers:
    description:
      - Containers of the test as icperf.lab.plan_tests plans them (name, app, active,
        argv, cpus, ip, mac, netmask, peer_ip, host_veth, vf, wiring).
    type: list
    elements: dict
    default: []
  state:
    description: The phase to carry out.
    type: str
    choices: [run, ready, senders, finished, stopped, collected, absent, cleanup]
    required: true
  link:
    description: Bridge the containers' veths join (published by the switch role).
    type: str
    default: ""
  rootfs:
    description: The rootfs every container shares read-only.
    type: path
    default: /var/lib/icperf/rootfs
  run_dir:
    description: Host directory of the containers' run directories (their /results).
    type: path
    default: /var/lib/icperf/run
  lxcpath:
    description: LXC's container path.
    type: path
    default: /var/lib/lxc
  duration:
    description: Seconds the active applets run.
    type: int
    default: 60
  stop_grace:
    description: Seconds past I(duration) after which an active applet counts as hung.
    type: int
    default: 20
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL when stopping a container.
    type: int
    default: 10
  ready_timeout:
    description: Seconds a passive applet may take to write its start record.
    type: int
    default: 10
  archive:
    description: Tar file written by C(state=collected).
    type: path
  extra_config:
    description: Extra lxc.* lines written into every container's config.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Run the test's containers
  icperf.lab.lxc_test:
    state: run
    containers: "{{ plan.containers }}"
    link: icpbr0
    duration: 60

- name: Stop them and pack their logs
  icperf.lab.lxc_test:
    state: collected
    containers: "{{ plan.containers }}"
    archive: /var/lib/icperf/run/logs.tar
"""

RETURN = r"""
exit_status:
  description: Exit status of each applet, C(<name>.<app>), -1 when it left none.
  returned: state=run, state=finished
  type: dict
cpu:
  description: CPU time of the applets, the switch and the cores during the steady window
    (docs/results.md, C(cpu)).
  returned: state=run and state=senders, with I(cpu), on a host with senders
  type: dict
archive:
  description: The tar file of the logs.
  returned: state=collected
  type: str
removed:
  description: Names of the containers removed.
  returned: state=absent, state=cleanup
  type: list
"""

import glob  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tarfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.icperf.lab.plugins.module_utils.cpusample import (  # noqa: E402
    CPU_OPTIONS,
    ProcReader,
    SampleError,
    WindowPlan,
    sample_window,
)
from ansible_collections.icperf.lab.plugins.module_utils.errors import (  # noqa: E402
    IcperfInputError,
)
from ansible_collections.icperf.lab.plugins.module_utils.lxcconf import (  # noqa: E402
    HEADER,
    argv_file,
    container_config,
    hugepages_mount,
    log_base,
)

POLL = 0.05
START_RECORD = re.compile(r'"type": ?"start"')


class ContainerSet:
    """The containers of one test on this host."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.p = module.params
        self.containers: list[dict[str, Any]] = list(self.p["containers"])
        self.changed = False

    # --- helpers ----------------------------------------------------------------------
    def lxc(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        rc, out, err = self.module.run_command([*args, "-P", self.p["lxcpath"]])
        if check and rc != 0:
            raise RuntimeError(f"{' '.join(args)}: {err.strip() or out.strip() or rc}")
        return rc, out.strip(), err.strip()

    def state_of(self, name: str) -> str:
        rc, out, _ = self.lxc("lxc-info", "-n", name, "-sH", check=False)
        return out if rc == 0 else "ABSENT"

    def run_path(self, container: dict[str, Any], suffix: str) -> str:
        return os.path.join(self.p["run_dir"], container["name"], log_base(container) + suffix)

    def passive(self) -> list[dict[str, Any]]:
        return [c for c in self.containers if not c.get("active")]

    def active(self) -> list[dict[str, Any]]:
        return [c for c in self.containers if c.get("active")]

    # --- phases -----------------------------------------------------------------------
    def define(self) -> None:
        paths = {"rootfs": self.p["rootfs"], "run_dir": self.p["run_dir"]}
        for container in self.containers:
            run = os.path.join(self.p["run_dir"], container["name"])
            conf = os.path.join(self.p["lxcpath"], container["name"])
            shutil.rmtree(run, ignore_errors=True)
            for directory in (run, conf):
                os.makedirs(directory, mode=0o750, exist_ok=True)
            text = container_config(
                self.with_vfio_group(self.with_vf_netdev(container)), paths, self.p["link"],
                self.p["extra_config"],
            )
            with open(os.path.join(conf, "config"), "w", encoding="utf-8") as handle:
                handle.write(text)
            with open(self.run_path(container, ".argv"), "w", encoding="utf-8") as handle:
                handle.write(argv_file(container["argv"], f"{container['name']}.argv"))
        self.changed = True

    @staticmethod
    def with_vf_netdev(container: dict[str, Any], sys_root: str = "/sys") -> dict[str, Any]:
        """The container with its VF's interface, when it takes the VF's netdev and its lab
        named the VF by PCI address only (or the plan gave it one of the wire NIC's VFs):
        the interface has a name only once the VF exists on its kernel driver."""
        if (container.get("wiring") or {}).get("net") != "phys" or container.get("vf"):
            return container
        net = f"{sys_root}/bus/pci/devices/{container.get('vf_pci')}/net"
        names = sorted(os.listdir(net)) if os.path.isdir(net) else []
        if not names:
            raise RuntimeError(
                f"containers: {container['name']}'s VF {container.get('vf_pci')} has no "
                "network interface (is it on the kernel's VF driver?)"
            )
        return {**container, "vf": names[0]}

    @staticmethod
    def with_vfio_group(container: dict[str, Any], sys_root: str = "/sys") -> dict[str, Any]:
        """The container with its VF's IOMMU group, when it opens the VF through VFIO."""
        if not (container.get("wiring") or {}).get("vfio"):
            return container
        link = f"{sys_root}/bus/pci/devices/{container.get('vf_pci')}/iommu_group"
        group = os.path.basename(os.readlink(link)) if os.path.islink(link) else ""
        return {**container, "vfio_group": group}

    def start(self, container: dict[str, Any]) -> None:
        self.lxc("lxc-start", "-n", container["name"], "-d")

    def wait_started(self, container: dict[str, Any]) -> dict[str, Any]:
        """The applet's start record, once written."""
        out = self.run_path(container, ".out")
        deadline = time.monotonic() + self.p["ready_timeout"]
        while time.monotonic() < deadline:
            try:
                with open(out, encoding="utf-8") as handle:
                    for line in handle:
                        if START_RECORD.search(line):
                            return json.loads(line)
            except (OSError, ValueError):
                pass
            if self.state_of(container["name"]) == "STOPPED":
                break
            time.sleep(POLL)
        raise RuntimeError(
            f"{log_base(container)} did not start within {self.p['ready_timeout']} s"
            + self.diagnostics(container)
        )

    def diagnostics(self, container: dict[str, Any]) -> str:
        """The applet's last word on stderr."""
        try:
            with open(self.run_path(container, ".err"), encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError:
            return ""
        return f": {text.splitlines()[-1]}" if text else ""

    def how_it_ended(self, container: dict[str, Any]) -> str:
        """Why an applet that should still run is gone: its summary's reason (its own
        duration ran out, a signal) and exit status, or that it left neither."""
        reason = None
        try:
            with open(self.run_path(container, ".out"), encoding="utf-8") as handle:
                for line in handle:
                    if '"summary"' in line:
                        reason = json.loads(line).get("reason")
        except (OSError, ValueError):
            pass
        code = self.exit_status_of(container)
        parts = [
            f"after its own duration of {self.own_duration(container)} s ran out"
            if reason == "duration" else f"ended by {reason}" if reason else "no summary record",
            f"exit status {code}" if code >= 0 else "no exit status",
        ]  # fmt: skip
        return f" ({', '.join(parts)})"

    @staticmethod
    def own_duration(container: dict[str, Any]) -> str:
        argv = [str(arg) for arg in container.get("argv") or []]
        return argv[argv.index("-t") + 1] if "-t" in argv[:-1] else "?"

    def check_link(self, container: dict[str, Any]) -> None:
        wiring = container.get("wiring") or {}
        if wiring.get("net") != "veth":
            return
        master = f"/sys/class/net/{container['host_veth']}/master"
        joined = os.path.basename(os.path.realpath(master)) if os.path.exists(master) else ""
        if joined != self.p["link"]:
            raise RuntimeError(
                f"{container['name']}: host veth {container['host_veth']} joined "
                f"{joined or 'no bridge'}, not {self.p['link']}"
            )

    def wait_stopped(self, container: dict[str, Any], timeout: float) -> bool:
        rc, _, _ = self.lxc(
            "lxc-wait", "-n", container["name"], "-s", "STOPPED", "-t", str(int(timeout)),
            check=False,
        )  # fmt: skip
        return rc == 0

    def stop(self, container: dict[str, Any]) -> None:
        if self.state_of(container["name"]) in ("STOPPED", "ABSENT"):
            return
        rc, _, err = self.lxc(
            "lxc-stop", "-n", container["name"], "-t", str(self.p["stop_timeout"]), check=False
        )
        # 2: the container stopped on its own in between.
        if rc not in (0, 2):
            raise RuntimeError(f"lxc-stop {container['name']}: {err or rc}")
        self.changed = True

    def stopped(self) -> dict[str, Any]:
        for container in self.containers:
            self.stop(container)
        return {}

    def would_change(self) -> bool:
        """Check mode: whether the phase would change anything on the host."""
        if self.p["state"] in ("run", "ready", "senders", "collected"):
            return True
        if self.p["state"] == "cleanup":
            return os.path.isdir(self.p["lxcpath"]) and any(
                os.path.isfile(os.path.join(self.p["lxcpath"], name, "config"))
                for name in os.listdir(self.p["lxcpath"])
            )
        return any(
            self.state_of(c["name"]) not in ("STOPPED", "ABSENT")
            or os.path.exists(os.path.join(self.p["lxcpath"], c["name"]))
            for c in self.containers
        )

    def exit_status_of(self, container: dict[str, Any]) -> int:
        try:
            with open(self.run_path(container, ".rc"), encoding="utf-8") as handle:
                return int(handle.read().strip() or -1)
        except (OSError, ValueError):
            return -1

    def exit_status(self) -> dict[str, int]:
        return {log_base(c): self.exit_status_of(c) for c in self.containers}

    def run(self) -> dict[str, Any]:
        self.ready()
        result = self.senders()
        return {**self.finished(), **result}

    def ready(self) -> dict[str, Any]:
        """Configs written, receivers and servers started and ready on their link."""
        self.define()
        for container in self.passive():
            self.start(container)
        for container in self.passive():
            self.wait_started(container)
            self.check_link(container)
        return {}

    def senders(self) -> dict[str, Any]:
        """Senders and clients started and waited for (with the CPU window); a host
        without any returns at once."""
        if not self.active():
            return {}
        for container in self.active():
            self.start(container)
        self.changed = True
        limit = self.p["duration"] + self.p["stop_grace"]
        started = time.monotonic()
        cpu = self.cpu_window() if self.p.get("cpu") else None
        hung = [
            log_base(c) for c in self.active()
            if not self.wait_stopped(c, max(1.0, limit - (time.monotonic() - started)))
        ]  # fmt: skip
        if hung:
            raise RuntimeError(f"{', '.join(hung)} still running {limit} s after it started")
        return {} if cpu is None else {"cpu": cpu}

    def finished(self) -> dict[str, Any]:
        """Receivers and servers stopped, having run until now; every exit status checked."""
        ended_early = [c for c in self.passive() if self.state_of(c["name"]) != "RUNNING"]
        for container in self.passive():
            self.stop(container)
        if ended_early:
            raise RuntimeError(
                f"{', '.join(log_base(c) for c in ended_early)} had stopped before the "
                "senders finished"
                + "".join(self.how_it_ended(c) + self.diagnostics(c) for c in ended_early)
            )
        status = self.exit_status()
        bad = [
            f"{name} left no exit status" if code < 0 else f"{name} exited with status {code}"
            + (f" (killed by signal {code - 128})" if code > 128 else "")
            for name, code in status.items()
            if code != 0
        ]
        if bad:
            raise RuntimeError("; ".join(bad))
        return {"exit_status": status}

    def cpu_window(self) -> dict[str, Any]:
        """CPU time during the senders' steady window; returns once the window has ended."""
        try:
            starts = [self.wait_started(c).get("ts") for c in self.active()]
            if not starts or not all(isinstance(ts, int | float) for ts in starts):
                raise SampleError("no sender or client on this host, or no ts in its start record")
            applets = [{"role": c["app"], "name": log_base(c), "program": c["argv"][0],
                        "init": int(self.lxc("lxc-info", "-n", c["name"], "-pH")[1])}
                       for c in self.containers]  # fmt: skip
            reader = ProcReader(self.p["cpu"]["proc_root"], self.module.run_command)
            plan = WindowPlan.of(self.p["cpu"], self.p["duration"])
            return sample_window(reader, plan, starts, applets)
        except (SampleError, RuntimeError, OSError, ValueError) as error:
            return {"error": str(error)}

    def collected(self) -> dict[str, Any]:
        for container in self.containers:
            self.stop(container)
        archive = self.p["archive"]
        if not archive:
            raise RuntimeError("archive: required with state=collected")
        os.makedirs(os.path.dirname(archive), exist_ok=True)
        with tarfile.open(archive, "w") as tar:
            for container in self.containers:
                run = os.path.join(self.p["run_dir"], container["name"])
                base = log_base(container)
                for source, name in (
                    (f"{base}.out", f"{base}.jsonl"),
                    (f"{base}.err", f"{base}.stderr"),
                    ("lxc.log", f"{container['name']}.lxc.log"),
                ):
                    path = os.path.join(run, source)
                    if os.path.isfile(path):
                        tar.add(path, arcname=name)
        self.changed = True
        return {"archive": archive}

    def release_pages(self, name: str) -> None:
        """Remove the page files a dpdk- applet left in the host's hugetlbfs (its EAL keeps
        them after exit, named after its --file-prefix, the container's name): while they
        exist their pages stay allocated, even once nr_hugepages is given back."""
        try:
            with open(os.path.join(self.p["lxcpath"], name, "config"), encoding="utf-8") as handle:
                directory = hugepages_mount(handle.read())
        except OSError:
            return
        if not directory:
            return
        for path in glob.glob(os.path.join(glob.escape(directory), glob.escape(name) + "map_*")):
            os.unlink(path)
            self.changed = True

    def absent(self) -> dict[str, Any]:
        removed = []
        for container in self.containers:
            self.stop(container)
            self.release_pages(container["name"])
            for directory in (self.p["lxcpath"], self.p["run_dir"]):
                path = os.path.join(directory, container["name"])
                if os.path.exists(path):
                    shutil.rmtree(path)
                    self.changed = True
            removed.append(container["name"])
        return {"removed": removed}

    def cleanup(self) -> dict[str, Any]:
        marked = []
        lxcpath = self.p["lxcpath"]
        for name in sorted(os.listdir(lxcpath)) if os.path.isdir(lxcpath) else []:
            try:
                with open(os.path.join(lxcpath, name, "config"), encoding="utf-8") as handle:
                    first = handle.readline()
            except OSError:
                continue
            if first.startswith(HEADER):
                marked.append({"name": name})
        self.containers = marked
        return self.absent()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "containers": {"type": "list", "elements": "dict", "default": []},
            "state": {
                "type": "str",
                "required": True,
                "choices": [
                    "run", "ready", "senders", "finished", "stopped", "collected", "absent",
                    "cleanup",
                ],
            },
            "link": {"type": "str", "default": ""},
            "rootfs": {"type": "path", "default": "/var/lib/icperf/rootfs"},
            "run_dir": {"type": "path", "default": "/var/lib/icperf/run"},
            "lxcpath": {"type": "path", "default": "/var/lib/lxc"},
            "duration": {"type": "int", "default": 60},
            "stop_grace": {"type": "int", "default": 20},
            "stop_timeout": {"type": "int", "default": 10},
            "ready_timeout": {"type": "int", "default": 10},
            "archive": {"type": "path"},
            "extra_config": {"type": "list", "elements": "str", "default": []},
            "cpu": {"type": "dict", "options": CPU_OPTIONS},
        },
        supports_check_mode=True,
    )
    handler = ContainerSet(module)
    if module.check_mode:
        module.exit_json(changed=handler.would_change())
    phases = {
        "run": handler.run,
        "ready": handler.ready,
        "senders": handler.senders,
        "finished": handler.finished,
        "stopped": handler.stopped,
        "collected": handler.collected,
        "absent": handler.absent,
        "cleanup": handler.cleanup,
    }
    try:
        result = phases[module.params["state"]]() or {}
    except (RuntimeError, IcperfInputError, OSError) as error:
        module.fail_json(msg=str(error), changed=handler.changed)
    module.exit_json(changed=handler.changed, **result)


if __name__ == "__main__":
    main()
