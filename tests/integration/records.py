"""Reading the applets' JSON-lines logs as the tests fetch them (docs/records.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summary(path: Path) -> dict[str, Any]:
    records = [r for r in read_records(path) if r["type"] == "summary"]
    assert len(records) == 1, f"{path}: {len(records)} summary records"
    return records[0]
