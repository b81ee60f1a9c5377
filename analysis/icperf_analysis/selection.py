"""Leave virtual switches out of an analysis: the thesis' figure 5.10 compares the switches
of figure 5.9 without Snabb, whose latency would flatten every other curve."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np
import pandas as pd

from .errors import InputError
from .load import Dataset


def _renumber(keep: np.ndarray) -> np.ndarray:
    """Old row number -> new one (-1 for rows left out)."""
    new = np.full(len(keep), -1, dtype=np.int64)
    new[keep] = np.arange(int(keep.sum()))
    return new


def _rows_of(frame: pd.DataFrame, tests: np.ndarray, apps: np.ndarray) -> pd.DataFrame:
    """The rows of kept tests, their test_idx and app_idx renumbered."""
    kept = frame[tests[frame["test_idx"].to_numpy()] >= 0].reset_index(drop=True)
    for column, new in (("test_idx", tests), ("app_idx", apps)):
        if column in kept:
            kept[column] = new[kept[column].to_numpy()].astype(frame[column].dtype)
    return kept


def without_vswitches(dataset: Dataset, names: Collection[str]) -> Dataset:
    """The dataset without the tests of switches ``names``; each must have a test."""
    found = set(dataset.tests["vswitch"].dropna())
    unknown = sorted(set(names) - found)
    if unknown:
        raise InputError(f"no test of {', '.join(unknown)} in {dataset.root} "
                         f"(switches: {', '.join(sorted(found))})")
    keep = ~dataset.tests["vswitch"].isin(list(names)).to_numpy()
    if not keep.any():
        raise InputError(f"every test of {dataset.root} would be left out")
    tests = _renumber(keep)
    apps = _renumber(tests[dataset.apps["test_idx"].to_numpy()] >= 0)
    kept_tests = dataset.tests[keep].reset_index(drop=True)
    kept_tests.index.name = dataset.tests.index.name
    kept_apps = _rows_of(dataset.apps, tests, apps)
    kept_apps.index.name = dataset.apps.index.name
    return dataclasses.replace(
        dataset, tests=kept_tests, apps=kept_apps,
        seconds=_rows_of(dataset.seconds, tests, apps), hist=_rows_of(dataset.hist, tests, apps),
    )  # fmt: skip
