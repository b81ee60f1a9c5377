"""Extra variables cut short by Ansible's key=value parser are refused, naming the variable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ansible.parsing.splitter import parse_kv
from ansible_collections.icperf.lab.plugins.module_utils.cliargs import stray_tokens

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def test_the_second_value_of_an_unquoted_list_is_reported() -> None:
    # What the shell hands over for: -e rates="100000 200000"
    assert parse_kv("rates=100000 200000") == {"rates": "100000", "_raw_params": "200000"}
    assert stray_tokens(["rates=100000 200000"], parse_kv) == [
        "rates: -e 'rates=100000 200000' gives rates=100000 and drops '200000' (Ansible "
        "splits key=value arguments at spaces); write lists with commas, -e "
        "rates=100000,200000, or as YAML, -e '{\"rates\": [...]}'"
    ]


def test_well_formed_arguments_pass() -> None:
    given = [
        "rates=100000,200000",
        "rates='100000 200000'",
        "pkt_sizes=64..448..1500 vswitch=ovs",
        '{"rates": [1, 2]}',
        "@vars.yml",
        "",
    ]
    assert stray_tokens(given, parse_kv) == []


def test_the_last_variable_before_the_stray_words_is_named() -> None:
    messages = stray_tokens(["vswitch=ovs pkt_sizes=64 1500 9000"], parse_kv)
    assert len(messages) == 1
    assert messages[0].startswith("pkt_sizes: ")
    assert "drops '1500 9000'" in messages[0]
    assert "pkt_sizes=64,1500,9000" in messages[0]


def test_the_lookup_reads_the_real_command_line(tmp_path: Path, collections_root: Path) -> None:
    playbook = tmp_path / "check.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy:\n"
        "        dest: '{{ playbook_dir }}/stray.json'\n"
        "        mode: '0644'\n"
        "        content: \"{{ lookup('icperf.lab.stray_extra_vars', wantlist=True)"
        " | to_json }}\"\n",
        encoding="utf-8",
    )
    env = {"ANSIBLE_COLLECTIONS_PATH": str(collections_root), "PATH": "/usr/bin:/bin",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "HOME": str(tmp_path)}  # fmt: skip
    run = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", f"ansible_python_interpreter={sys.executable}", "-e", "rates=1 2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    stray = json.loads((tmp_path / "stray.json").read_text(encoding="utf-8"))
    assert stray == stray_tokens(["rates=1 2"], parse_kv)
    assert stray[0].startswith("rates: -e 'rates=1 2' gives rates=1 and drops '2'")
