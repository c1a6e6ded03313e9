"""Arrival → command from a trial log: for each IMU frame, the time until the first command built from it.

A cycle uses the newest frame that arrived before its read stage ended; a frame counts once, with the first
cycle that used it (a cycle with no new frame adds nothing). The command is written when the write stage
ends. Times are the log's: frame arrival stamps, cycle start plus its stage times.
"""

from __future__ import annotations

import numpy as np

from firmware_bridge.runtime.timing import STAGES
from firmware_bridge.trial.reader import TrialLog


def arrival_to_command_ms(log: TrialLog, state: int | None = None) -> np.ndarray:
    """Per frame served (by cycles in ``state`` when given): milliseconds from its arrival to the command."""
    arrivals = np.array([t for t, _ in log.messages.get("/imu/raw", [])])
    upto_write = STAGES[: STAGES.index("write") + 1]
    out, used = [], -1
    for t, m in log.messages.get("/timing", []):
        k = int(np.searchsorted(arrivals, t + 1e3 * m["read_us"], side="right")) - 1
        if k <= used:
            continue
        used = k
        if state is None or m["state"] == state:
            out.append((t + 1e3 * sum(m[f"{s}_us"] for s in upto_write) - arrivals[k]) / 1e6)
    return np.array(out)
