"""The roles' filters and the saved_state module through Ansible: docs, errors, a real role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.icperf.lab.plugins.filter import icperf, icperf_roles

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
FILTER_DIR = Path(__file__).resolve().parents[2] / "plugins" / "filter"
FILTERS = icperf_roles.FilterModule().filters()


def test_every_filter_is_documented() -> None:
    for name in FILTERS:
        doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text(encoding="utf-8"))
        assert doc["DOCUMENTATION"]["name"] == name
        assert {"EXAMPLES", "RETURN"} <= set(doc)
    assert not set(FILTERS) & set(icperf.FilterModule().filters())


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "message"),
    [
        ("basicfwd_plan", ([],), {}, "icperf_vswitch_ports: must list"),
        ("testpmd_argv", ({"ports": [], "portlist": []}, []), {}, "icperf_vswitch_cores: []"),
        ("hugepages_meminfo", (None,), {}, "meminfo: None"),
        ("use_hugepages", ("sometimes", "", 1, "vswitch_basicfwd_hugepages"), {},
         "vswitch_basicfwd_hugepages: 'sometimes'"),
        ("hugepages_plan", ("0", "", "/mnt/h", 0, True), {}, "hugepages_count: 0"),
        ("ovs_other_config", ([1],), {"file_prefix": "a/b"}, "vswitch_ovs_file_prefix: 'a/b'"),
        ("ovs_status", ("",), {}, "ovs-vsctl: ''"),
        ("ovs_config_args", ({}, {}), {}, "status: {}"),
        ("ovs_daemon_ops", ([["ovs-vswitchd", "up"]],), {}, "ops[0]:"),
        ("ovs_start_plan", ({"other_config": {}}, None, True), {}, "other_config: None"),
        ("ovs_stop_plan", ({}, True, True), {"bridge": ""}, "vswitch_ovs_bridge: ''"),
        ("ovs_bridge_argv", ([{"name": "a", "sock": "/s"}], "br 0"), {}, "vswitch_ovs_bridge:"),
        ("sriov_test_vfs", ([{"name": "a", "mac": "02:00:00:00:00:01"}], [], []), {},
         "icperf_vswitch_ports[0].vf_pci: a names no VF"),
    ],
)  # fmt: skip
def test_wrappers_raise_ansible_filter_error(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        FILTERS[name](*args, **kwargs)
    assert caught.value.message.startswith(message)


PLAYBOOK = """
- name: Tune a fake cpufreq tree with the host_tuning role, twice, then restore it
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Apply
      ansible.builtin.include_role:
        name: icperf.lab.host_tuning
        tasks_from: apply

    - name: Keep what the first apply published
      ansible.builtin.set_fact:
        first_governor: "{{ host_tuning_governor_now }}"

    - name: Apply again, as the next test of a sweep does
      ansible.builtin.include_role:
        name: icperf.lab.host_tuning
        tasks_from: apply

    - name: Write what the host held while tuned
      ansible.builtin.copy:
        dest: "{{ playbook_dir }}/tuned.json"
        mode: "0644"
        content: >-
          {{ {'governor': first_governor,
              'state': lookup('ansible.builtin.file', host_tuning_state_file) | from_json,
              'no_turbo': lookup('ansible.builtin.file', host_tuning_sysfs_cpu
                                 ~ '/intel_pstate/no_turbo')} | to_json }}

    - name: Restore
      ansible.builtin.include_role:
        name: icperf.lab.host_tuning
        tasks_from: restore
"""


@pytest.mark.slow
def test_host_tuning_role_saves_once_and_restores(
    collections_root: Path, tmp_path: Path
) -> None:
    sysfs = tmp_path / "cpu"
    found = {"cpu0/cpufreq/scaling_governor": "powersave", "intel_pstate/no_turbo": "0",
             "cpufreq/boost": "1"}  # fmt: skip
    for relative, value in found.items():
        (sysfs / relative).parent.mkdir(parents=True, exist_ok=True)
        (sysfs / relative).write_text(value + "\n")
    state = tmp_path / "state" / "host_tuning.json"
    playbook = tmp_path / "tuning.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(collections_root),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    extra = {"ansible_python_interpreter": sys.executable, "host_tuning_sysfs_cpu": str(sysfs),
             "host_tuning_state_file": str(state)}  # fmt: skip
    run = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook), "-e", json.dumps(extra)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    tuned = json.loads((tmp_path / "tuned.json").read_text())
    assert tuned["governor"] == "performance" and tuned["no_turbo"] == "1"
    # The second apply found the tuned values and kept the first ones.
    assert tuned["state"] == {"files": {str(sysfs / k): v for k, v in found.items()}}
    assert {k: (sysfs / k).read_text().strip() for k in found} == found
    assert not state.exists()
