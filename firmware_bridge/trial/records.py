"""The per-cycle record the loop hands to the logger, and how it maps onto MCAP channels.

The loop sends one plain tuple per cycle (cheap to pickle); the logger process expands it into JSON
messages on the channels below. Side order is (right, left) everywhere.
"""

from __future__ import annotations

from typing import Any, NamedTuple

TOPICS = {
    "/imu/raw": "IMU frames as received: seq, device time, readings (gyro rad/s, accel m/s^2)",
    "/student/output": "normalised hip command from the controller, before shaping",
    "/torque/shaped": "torque after the shaping chain (N·m), with clamp/rate-limit flags",
    "/motor/command": "torque command frames sent to the motor controller",
    "/motor/status": "controller status frames: echo seq, measured torque, faults, round trip",
    "/timing": "per-cycle lateness, skipped periods, stage times (µs), overrun flag",
    "/events": "state changes, faults, markers and notes",
}


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


def imu_messages(frames: list[tuple[int, int, int, tuple]]) -> list[tuple[str, int, dict[str, Any]]]:
    """``/imu/raw`` messages, stamped with their arrival time."""
    return [
        (
            "/imu/raw",
            received_ns,
            {
                "seq": seq,
                "device_time_us": device_time_us,
                "readings": [{"imu_id": i, "gyro": list(g), "accel": list(a), "status": s} for i, g, a, s in readings],
            },
        )
        for seq, device_time_us, received_ns, readings in frames
    ]


def cycle_messages(record: CycleRecord, stage_names: tuple[str, ...]) -> list[tuple[str, int, dict[str, Any]]]:
    """Expand one cycle into (topic, t_ns, message) triples."""
    t = record.t_ns
    out = imu_messages(record.imu_frames)
    if record.command is not None:
        out.append(
            ("/student/output", t, {"cycle": record.cycle, "right": record.command[0], "left": record.command[1]})
        )
    right, left, clamped, rate_limited = record.shaped
    out.append(
        (
            "/torque/shaped",
            t,
            {
                "cycle": record.cycle,
                "right_nm": right,
                "left_nm": left,
                "clamped": clamped,
                "rate_limited": rate_limited,
            },
        )
    )
    if record.sent is not None:
        seq, r, le, flags = record.sent
        out.append(
            (
                "/motor/command",
                t,
                {
                    "cycle": record.cycle,
                    "seq": seq,
                    "right_nm": r,
                    "left_nm": le,
                    "flags": flags,
                    "state": record.state,
                },
            )
        )
    for echo, mr, ml, faults, flags, rtt in record.statuses:
        out.append(
            (
                "/motor/status",
                t,
                {
                    "echo_seq": echo,
                    "measured_right_nm": mr,
                    "measured_left_nm": ml,
                    "fault_bits": faults,
                    "flags": flags,
                    "round_trip_ms": rtt,
                },
            )
        )
    timing = {
        "cycle": record.cycle,
        "state": record.state,
        "lateness_us": record.lateness_ns / 1e3,
        "skipped": record.skipped,
        "overrun": record.overrun,
        "triggered": record.triggered,
        "log_drops": record.log_drops,
    }
    timing.update({f"{name}_us": ns / 1e3 for name, ns in zip(stage_names, record.stage_ns, strict=True)})
    out.append(("/timing", t, timing))
    return out
