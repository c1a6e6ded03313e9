"""The records the loop hands to the logger: one per cycle, and events.

The loop sends one plain tuple per cycle (struct-packed, ``packing.py``); the logger process expands it into
JSON messages on the channels of ``channels.py``. Side order is (right, left) everywhere.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class CycleRecord(NamedTuple):
    cycle: int
    t_ns: int
    state: int
    imu_frames: list[tuple[int, int, int, tuple]]
    """(seq, device_time_us, received_ns, readings) with readings ((imu_id, gyro, accel, status), ...)."""
    command: tuple[float, float] | None
    shaped: tuple[float, float, bool, bool]
    sent: tuple[int, float, float, int] | None
    """(seq, right_nm, left_nm, flags) of the command frame written, None when the port was down."""
    statuses: list[tuple[int, float, float, int, int, float | None]]
    """(echo_seq, measured_right_nm, measured_left_nm, fault_bits, flags, round_trip_ms)."""
    lateness_ns: int
    skipped: int
    stage_ns: tuple[int, ...]
    overrun: bool
    log_drops: int
    triggered: bool = False
    """Started by a complete IMU sample rather than by the period's deadline."""


class EventRecord(NamedTuple):
    t_ns: int
    kind: str
    """'state', 'fault', 'marker', 'info' or 'warning'."""
    text: str
    fields: dict[str, Any]
