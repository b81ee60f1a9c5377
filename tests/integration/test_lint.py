"""Static checks of the collection: ansible-lint (production), syntax checks, yamllint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

BIN = Path(sys.executable).parent
PLAYBOOKS = sorted(
    [*REPO.glob("*.yml"), *(REPO / "playbooks").glob("*.yml")],
    key=lambda path: str(path),
)


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (run scripts/setup.sh)")
    return found


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "NO_COLOR": "1"}
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def _is_playbook(path: Path) -> bool:
    text = path.read_text()
    return "import_playbook:" in text or "\n  hosts:" in text


def test_playbooks_are_found() -> None:
    names = {path.relative_to(REPO).as_posix() for path in PLAYBOOKS if _is_playbook(path)}
    assert {
        "testset.yml",
        "run_test.yml",
        "provision.yml",
        "playbooks/testset.yml",
        "playbooks/run_test.yml",
        "playbooks/provision.yml",
    } <= names


@pytest.mark.parametrize(
    "playbook",
    [path for path in PLAYBOOKS if _is_playbook(path)],
    ids=lambda path: path.relative_to(REPO).as_posix(),
)
def test_syntax_check(playbook: Path) -> None:
    result = _run([_tool("ansible-playbook"), "--syntax-check", str(playbook)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile() -> None:
    result = _run([_tool("ansible-lint"), "--profile", "production", "--nocolor"])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]


def test_yamllint() -> None:
    result = _run([_tool("yamllint"), "--strict", "."])
    assert result.returncode == 0, result.stdout + result.stderr
