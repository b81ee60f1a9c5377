from __future__ import annotations

from pathlib import Path

import pytest

from icperf_analysis.aggregate import Aggregates
from icperf_analysis.load import Dataset

from analysis_trees import analyse

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def icperf_tree() -> Path:
    return DATA / "icperf_tree"


@pytest.fixture(scope="session")
def thesis_tree() -> Path:
    return DATA / "thesis_tree"


@pytest.fixture(scope="session")
def icperf_result(icperf_tree: Path) -> tuple[Dataset, Aggregates]:
    return analyse(icperf_tree)


@pytest.fixture(scope="session")
def thesis_result(thesis_tree: Path) -> tuple[Dataset, Aggregates]:
    return analyse(thesis_tree)
