from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from icperf_analysis import units


def test_minimum_frame_at_10gbe_line_rate_is_10_gbps_on_the_wire() -> None:
    # The textbook 14.88 Mpps is for 64 B frames counted with FCS, i.e. 60 B without it,
    # which is how docs/records.md sizes frames: 60 + 4 + 20 = 84 B = 672 bit per frame.
    assert units.gbps_l1(14_880_952.38, 60) == pytest.approx(10.0, rel=1e-9)
    assert units.line_rate_pps(60) == pytest.approx(14_880_952.38, rel=1e-9)


def test_64_byte_frames_without_fcs() -> None:
    # A 64 B frame (no FCS) takes 88 B on the wire: 10 GbE carries 14.2045 Mpps of them.
    assert units.line_rate_pps(64) == pytest.approx(10e9 / (88 * 8))
    assert units.gbps_l1(14_880_000, 64) == pytest.approx(14.88e6 * 88 * 8 / 1e9)
    assert units.gbps_l2(14_880_000, 64) == pytest.approx(7.61856)


def test_l2_counts_frame_bytes_only() -> None:
    assert units.gbps_l2(1_000_000, 1500) == pytest.approx(12.0)
    assert units.gbps_l1(1_000_000, 1500) == pytest.approx(12.192)
    assert units.mpps(2_500_000) == pytest.approx(2.5)


def test_vectorised_over_series() -> None:
    pps = pd.Series([1e6, 2e6])
    sizes = pd.Series([64, 1500])
    np.testing.assert_allclose(units.gbps_l1(pps, sizes), [0.704, 24.384])
    np.testing.assert_allclose(units.line_rate_pps(np.array([1476.0])), [10e9 / 12000])
