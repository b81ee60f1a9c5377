"""vswitch_vpp on a host without VPP (no registry reachable from the test machine carries
it): the first play's refusal with install instructions, and stop's clean-up and its
account of a VPP that died, driven from the state start leaves. Its rendered configuration
is checked against VPP's grammar in tests/unit/test_vpp_conf.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOST_TEST_MARKS, REPO, base_vars, host_state, run_playbook

pytestmark = HOST_TEST_MARKS

VPP = Path("/usr/bin/vpp")
STOP_PLAYBOOK = """---
- name: Stop VPP and report what stop found
  hosts: icperf_hosts
  gather_facts: false
  tasks:
    - name: Stop
      ansible.builtin.include_role:
        name: icperf.lab.vswitch_vpp
        tasks_from: stop

    - name: Report
      ansible.builtin.copy:
        dest: "{{ icpv_report }}"
        content: "{{ {'failure': vswitch_vpp_failure} | to_json }}"
        mode: "0644"
"""


@pytest.fixture(autouse=True)
def without_vpp() -> None:
    if VPP.exists():
        pytest.skip(f"{VPP} is installed here: these tests are about a host without VPP")


def test_first_play_says_how_to_install_vpp(tmp_path: Path, clean_host: dict[str, Any]) -> None:
    run = run_playbook(tmp_path, "testset.yml", base_vars(tmp_path, vswitch="vpp"))

    assert run.rc != 0
    assert run.plays() == ["Check the test set"]
    message = run.failures()[-1]["event_data"]["res"]["msg"]
    assert message.startswith(f"vswitch: VPP is not installed on localhost ({VPP}) and ")
    for words in (
        "Install VPP 25.10 from FD.io",
        "https://packagecloud.io/fdio/2510/<debian|ubuntu>/ <suite> main",
        "signed by https://packagecloud.io/fdio/2510/gpgkey",
        "apt-get install vpp vpp-plugin-core vpp-plugin-dpdk",
        "provision.yml -e vswitches=vpp",
    ):
        assert words in message
    assert not (tmp_path / "results").exists()
    assert host_state() == clean_host


def test_first_play_checks_the_cores_before_the_install(tmp_path: Path) -> None:
    run = run_playbook(
        tmp_path, "testset.yml", base_vars(tmp_path, vswitch="vpp", vswitch_vpp_main_core=1)
    )
    assert run.rc != 0
    message = run.failures()[-1]["event_data"]["res"]["msg"]
    assert message.startswith("vswitch_vpp_main_core: core 1 is also a worker core")


def _stop(tmp_path: Path, state: Path, report: Path) -> str:
    playbook = tmp_path / "stop.yml"
    playbook.write_text(STOP_PLAYBOOK)
    variables = {
        "vswitch_vpp_state_file": str(state),
        "vswitch_vpp_counters_log": str(tmp_path / "counters.jsonl"),
        "icpv_report": str(report),
    }
    argv = [str(REPO / ".venv/bin/ansible-playbook"), str(playbook), "-e", json.dumps(variables)]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout


def test_stop_cleans_up_after_a_vpp_that_died(tmp_path: Path) -> None:
    # What start records (vswitch_vpp's tasks/start.yml) for a VPP it ran directly and
    # that then died: its configuration and sockets are still there.
    files = [tmp_path / "icperf-startup.conf", tmp_path / "icperf.exec"]
    sockets = [tmp_path / "icp0.sock", tmp_path / "icp1.sock"]
    for path in [*files, *sockets]:
        path.write_text("left\n")
    state = tmp_path / "vpp.state.json"
    state.write_text(json.dumps({
        "manager": "direct", "service": "vpp", "service_was_active": False,
        "binary": str(VPP), "pid_file": str(tmp_path / "vpp.pid"),
        "cli_socket": str(tmp_path / "cli.sock"), "written": [str(p) for p in files],
        "sockets": [str(p) for p in sockets], "started": True,
    }))  # fmt: skip
    report = tmp_path / "report.json"

    _stop(tmp_path, state, report)

    assert not any(path.exists() for path in [*files, *sockets, state])
    found = json.loads(report.read_text())
    assert found["failure"].startswith("vswitch_vpp: VPP was no longer running")

    # A second stop finds nothing to do and blames nothing.
    output = _stop(tmp_path, state, report)
    assert json.loads(report.read_text()) == {"failure": ""}
    assert "changed=1 " in output  # the report's copy, nothing of the role's
