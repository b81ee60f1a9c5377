"""roles/native builds with as many make jobs as the host lets the build use. The playbooks
gather no facts, so the role has to ask the host itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from icperf_run import ROOT

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the role installs as root"),
]

PLAYBOOK = """\
- name: Build icperf with the native role, as the playbooks do
  hosts: localhost
  gather_facts: false
  roles:
    - role: native
"""


@pytest.mark.parametrize(("native_jobs", "jobs"), [(None, 1), (3, 3)], ids=["nproc", "given"])
def test_make_jobs_are_the_cpus_of_the_host_unless_given(
    tmp_path: Path, native_jobs: int | None, jobs: int
) -> None:
    # One CPU is what this run gives the build, whatever the machine has: a count the role
    # can only find by asking the host. A native_jobs given wins.
    cpu = min(os.sched_getaffinity(0))
    playbook = tmp_path / "native.yml"
    playbook.write_text(PLAYBOOK)
    (tmp_path / "bin").mkdir()  # as /usr/local/bin is there already
    extra = {
        "native_build_root": str(tmp_path / "src"),
        "native_install_path": str(tmp_path / "bin" / "icperf"),
        "native_static_install_path": str(tmp_path / "lib" / "icperf-static"),
        "native_checksum_file": str(tmp_path / "native.sha256"),
        "native_packages": [],
    }
    if native_jobs is not None:
        extra["native_jobs"] = native_jobs
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(
        [
            "taskset",
            "-c",
            str(cpu),
            "ansible-playbook",
            "-i",
            str(ROOT / "inventories" / "local" / "hosts.yml"),
            str(playbook),
            "-e",
            json.dumps(extra),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    makes = [
        t["hosts"]["localhost"]
        for t in tasks
        if t["hosts"]["localhost"].get("action") == "community.general.make"
    ]
    assert len(makes) == 2, [t["task"]["name"] for t in tasks]
    assert [m["jobs"] for m in makes] == [jobs, jobs], makes
    assert all(m["command"].split()[1:3] == ["-j", str(jobs)] for m in makes), makes
    assert (tmp_path / "bin" / "icperf").is_file()
