"""The filter plugin: wrappers raise AnsibleFilterError, and a real playbook resolves them."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.icperf.lab.plugins.filter.icperf import FilterModule
from ansible_collections.icperf.lab.plugins.module_utils import (
    addresses,
    command,
    labfile,
    matrix,
    plan,
    sequences,
    vswitches,
)

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
FILTER_DIR = Path(__file__).resolve().parents[2] / "plugins" / "filter"
FILTERS = FilterModule().filters()


def _all_filters() -> dict[str, Any]:
    """Filters of every filter plugin file of the collection, each name exported once."""
    found: dict[str, Any] = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        module = importlib.import_module(
            f"ansible_collections.icperf.lab.plugins.filter.{path.stem}"
        )
        for name, function in module.FilterModule().filters().items():
            assert name not in found, f"{name} is exported by two filter files"
            found[name] = function
    return found


def test_every_documented_filter_is_exported() -> None:
    docs = FILTER_DIR
    exported = _all_filters()
    documented = {path.stem for path in docs.glob("*.yml")}
    assert documented == set(exported)
    for name in exported:
        doc = yaml.safe_load((docs / f"{name}.yml").read_text(encoding="utf-8"))
        assert doc["DOCUMENTATION"]["name"] == name
        assert {"EXAMPLES", "RETURN"} <= set(doc)


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("expand_sequence", ("64..0..256", "pkt_sizes"), "pkt_sizes: '64..0..256': step must"),
        ("check_test_params", ({"vswitch": "bess"},), "vswitch: unknown virtual switch"),
        ("read_lab", ("/nonexistent/lab.yml",), "lab: cannot read /nonexistent/lab.yml"),
        ("lab_containers", ({"pairs": 0}, 2), "pairs: 0 must be an integer >= 1"),
        ("vswitch_cores", ({"pairs": 1}, 2, [0], 5), "switch_cores: 5 cores asked"),
        ("test_matrix", ({"vswitches": "ovs", "pkt_sizes": 64, "bursts": 32, "rates": 0},),
         "rates: 0 is out of range"),
        ("read_labs", ([],), "labs: missing, give at least one lab file"),
        ("plan_tests", ([], {}, [], {}), "labs: [] is not a mapping"),
        ("shared_core_warnings", (None,), "plans: None is not a list"),
        ("resume_plan", ([], "results"), "results_dir: 'results' is not an absolute path"),
        ("vswitch_traits", ("bess",), "vswitch: unknown virtual switch 'bess'"),
        ("icperf_command", ({}, {"vswitch": "ovs"}, 10), "container.app: None is not one"),
        ("mac_address", (-1,), "index: -1 is not an integer"),
        ("ip_address", ("10.0.3.0/24", 0), "index: host 0 is outside"),
    ],
)
def test_wrappers_raise_ansible_filter_error(
    name: str, args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        FILTERS[name](*args)
    assert caught.value.message.startswith(message)


def test_wrappers_return_the_plain_results() -> None:
    assert FILTERS["expand_sequence"]("64..32..128", "bursts") == [64, 96, 128]
    assert FILTERS["mac_address"](16) == "02:00:00:00:00:10"
    assert FILTERS["vswitch_cores"]({"pairs": 1}, 4, [0], 2) == [1, 2]


PLAYBOOK = """
- name: Use every icperf.lab filter through the collection
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    lab_path: "{{ playbook_dir }}/pairs1.yml"
  tasks:
    - name: Plan for the progress callback
      ansible.builtin.set_fact:
        icperf_plan: {total: 2, to_run: 2, skipped: 0, seconds_per_test: 90}

    - name: Apply the filters
      ansible.builtin.set_fact:
        bursts: "{{ '64..32..256' | icperf.lab.expand_sequence('bursts') }}"
        params: "{{ {'vswitches': 'ovs', 'pkt_sizes': '64 1500', 'bursts': 32,
                     'rates': 1000, 'labs': [lab_path]} | icperf.lab.check_test_params }}"
        lab: "{{ lab_path | icperf.lab.read_lab }}"
        containers: "{{ lab_path | icperf.lab.read_lab
                        | icperf.lab.lab_containers(8, [0], 1, 'ovs') }}"
        switch: "{{ lab_path | icperf.lab.read_lab | icperf.lab.vswitch_cores(8, [0], 1) }}"
        labs: "{{ [lab_path] | icperf.lab.read_labs }}"
        traits: "{{ 'ovs' | icperf.lab.vswitch_traits }}"

    - name: Plan the tests
      ansible.builtin.set_fact:
        tests: "{{ params | icperf.lab.test_matrix(labs) }}"

    - name: Plan each test and decide what to resume
      ansible.builtin.set_fact:
        plans: "{{ tests | icperf.lab.plan_tests(params, labs, {'cores': '0-7'}) }}"
        resume: "{{ tests | icperf.lab.resume_plan(playbook_dir ~ '/results', false) }}"
        mac: "{{ 16 | icperf.lab.mac_address }}"
        ip: "{{ '10.0.3.0/24' | icperf.lab.ip_address(10) }}"

    - name: Build a command line
      ansible.builtin.set_fact:
        argv: "{{ containers[0] | icperf.lab.icperf_command(tests[0], 10) }}"

    - name: Announce each test
      ansible.builtin.set_fact:
        icperf_progress: {index: "{{ item.index }}", total: "{{ item.total }}",
                          id: "{{ item.path }}"}
      loop: "{{ tests }}"
      loop_control:
        label: "{{ item.path }}"

    - name: A bad value fails with the variable's name
      ansible.builtin.set_fact:
        bad: "{{ '64..0..256' | icperf.lab.expand_sequence('pkt_sizes') }}"
      register: failure
      ignore_errors: true

    - name: Save the results for the test
      ansible.builtin.copy:
        dest: "{{ playbook_dir }}/results.json"
        mode: "0644"
        content: "{{ {'bursts': bursts, 'params': params, 'lab': lab,
                      'containers': containers, 'switch': switch, 'tests': tests,
                      'labs': labs, 'traits': traits, 'plans': plans, 'resume': resume,
                      'warnings': plans | icperf.lab.shared_core_warnings,
                      'mac': mac, 'ip': ip, 'argv': argv, 'failure': failure.msg}
                     | to_json }}"
"""


@pytest.mark.slow
def test_playbook_resolves_filters_and_callback_through_the_collection(
    collections_root: Path, tmp_path: Path
) -> None:
    lab_path = tmp_path / "pairs1.yml"
    lab_path.write_text("pairs: 1\n", encoding="utf-8")
    playbook = tmp_path / "filters.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n", encoding="utf-8")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_COLLECTIONS_PATH": str(collections_root),
        "ANSIBLE_CALLBACKS_ENABLED": "icperf.lab.progress",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    run = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook),
         "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))

    lab = {"pairs": 1}
    params = {"vswitches": ["ovs"], "pkt_sizes": [64, 1500], "bursts": [32], "rates": [1000],
              "labs": [str(lab_path)]}  # fmt: skip
    tests = matrix.test_matrix(params)
    containers = labfile.lab_containers(lab, 8, [0], 1, "ovs")
    plans = plan.plan_tests(tests, results["params"], {str(lab_path): lab}, {"cores": "0-7"})
    assert results["bursts"] == sequences.expand_sequence("64..32..256", "bursts")
    assert results["params"]["labs"] == [str(lab_path)]
    assert results["params"]["pkt_sizes"] == [64, 1500]
    assert results["params"]["vswitch"] == "ovs"
    assert results["lab"] == lab
    assert results["containers"] == containers
    assert results["switch"] == [1]
    assert results["tests"] == tests
    assert results["labs"] == {str(lab_path): lab}
    assert results["traits"] == vswitches.vswitch_traits("ovs")
    assert results["plans"] == plans
    assert results["resume"] == {
        "to_run": [{**test, "replace": ""} for test in tests], "done": [], "conflicts": [],
    }  # fmt: skip
    assert results["warnings"] == plan.shared_core_warnings(plans) == []
    assert results["mac"] == addresses.mac_address(16)
    assert results["ip"] == "10.0.3.10"
    assert results["argv"] == command.icperf_command(containers[0], tests[0], 10)
    assert "pkt_sizes: '64..0..256': step must be > 0" in results["failure"]

    progress = [line for line in run.stdout.splitlines() if line.startswith("icperf:")]
    assert progress == [
        "icperf: 2 tests (0 already done), estimated 0h03m",
        "icperf: test 1/2 pairs1/c1/32/ovs/64/1000 (ETA 0h03m)",
        progress[2],
        progress[3],
    ]
    assert progress[2].startswith("icperf: test 2/2 pairs1/c1/32/ovs/1500/1000 (ETA 0h0")
    assert progress[3].startswith("icperf: 2 tests run in 0h0")
