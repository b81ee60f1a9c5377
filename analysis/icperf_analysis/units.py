"""Rates in packets per second to Mpps and to Gbps at layer 2 and layer 1.

Frame sizes follow docs/records.md: the Ethernet frame without FCS. Layer 2 counts the frame
bytes only; layer 1 adds what the wire carries besides: the 4 B FCS, the 8 B preamble and start
delimiter and the 12 B inter-frame gap, so it compares with an Ethernet line rate.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

FCS_BYTES = 4
PREAMBLE_IFG_BYTES = 20
L1_OVERHEAD_BYTES = FCS_BYTES + PREAMBLE_IFG_BYTES
TEN_GBE_BPS = 10e9

Rate = TypeVar("Rate", float, np.ndarray, pd.Series)


def mpps(pps: Rate) -> Rate:
    return pps / 1e6


def gbps_l2(pps: Rate, frame_bytes: Rate | int) -> Rate:
    """Throughput counting frame bytes (without FCS)."""
    return pps * frame_bytes * 8 / 1e9


def gbps_l1(pps: Rate, frame_bytes: Rate | int) -> Rate:
    """Throughput on the wire: frame + FCS + preamble/start delimiter + inter-frame gap."""
    return pps * (frame_bytes + L1_OVERHEAD_BYTES) * 8 / 1e9


def line_rate_pps(frame_bytes: Rate | int, line_bps: float = TEN_GBE_BPS) -> Rate:
    """Most frames per second a link of `line_bps` carries for this frame size (no FCS)."""
    return line_bps / ((frame_bytes + L1_OVERHEAD_BYTES) * 8)
