"""Make the repository importable as the collection ansible_collections.icperf.lab.

A temporary directory holds ansible_collections/icperf/lab -> repository root and is put
first on sys.path, so the plugins import each other by their collection names, exactly as
Ansible loads them. The ansible-playbook test uses the same directory as its collections
path.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_ROOT = Path(tempfile.mkdtemp(prefix="icperf-unit-collections-"))
atexit.register(shutil.rmtree, COLLECTIONS_ROOT, True)
(COLLECTIONS_ROOT / "ansible_collections" / "icperf").mkdir(parents=True)
(COLLECTIONS_ROOT / "ansible_collections" / "icperf" / "lab").symlink_to(REPO_ROOT)
sys.path.insert(0, str(COLLECTIONS_ROOT))


@pytest.fixture
def collections_root() -> Path:
    """Directory holding ansible_collections/icperf/lab (a collections path for Ansible)."""
    return COLLECTIONS_ROOT


@pytest.fixture
def write_lab(tmp_path: Path) -> Callable[[str, Any], str]:
    """Write a lab mapping as YAML under tmp_path and return its path."""

    def write(name: str, content: Any) -> str:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(content), encoding="utf-8")
        return str(path)

    return write
