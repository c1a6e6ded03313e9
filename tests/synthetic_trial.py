"""Trial logs written by the real logger process from synthetic walking: each thigh swings at its own stride time.

The records are what the loop hands the logger (CycleRecord): IMU frames with a sinusoidal thigh gyro whose
positive-to-negative crossings the baseline controller's detector takes as heel strikes, the shaped torque, the
command sent, a motor status, stage times, and a fault that recovers. ``tests/data/trial_format1.mcap`` was written
from these records by the writer of the first log format (one ``{"type": "object"}`` schema for every channel).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

from firmware_bridge.config.paths import default_config
from firmware_bridge.protocol.messages import ImuReading
from firmware_bridge.runtime.safety import State
from firmware_bridge.runtime.timing import STAGES
from firmware_bridge.trial.records import CycleRecord

RATE_HZ = 100.0
PERIOD_NS = int(1e9 / RATE_HZ)
BODY_MASS_KG = 70.0
FAULT_AT_S = (3.0, 3.4)
"""A fault episode (IMU stale) from onset to re-arming, s from the start."""
IMU_IDS = {"pelvis": 0, "thigh_r": 1, "thigh_l": 2}
WALL_OFFSET_NS = 1_700_000_000 * 10**9
"""Loop clock → wall clock (the log's times): 2023-11-14."""


def thigh_gyro_z(t_s: float, stride_s: float) -> float:
    return 2.5 * math.sin(2 * math.pi * t_s / stride_s)


def torque_nm(t_s: float, stride_s: float) -> float:
    return 8.0 * math.sin(2 * math.pi * t_s / stride_s + 1.0)


def walking_records(duration_s: float, stride_s: tuple[float, float]) -> Iterator[CycleRecord]:
    """One record per 10 ms cycle; (right, left) thigh gyro z at their stride times, torque in phase with them."""
    for cycle in range(int(duration_s * RATE_HZ)):
        t_s = cycle / RATE_HZ
        t_ns = cycle * PERIOD_NS
        faulted = FAULT_AT_S[0] <= t_s < FAULT_AT_S[1]
        state = State.FAULT if faulted else State.ASSISTING
        right, left = (0.0, 0.0) if faulted else (torque_nm(t_s, stride_s[0]), torque_nm(t_s, stride_s[1]))
        gyro = (0.01 * cycle % 1.0, thigh_gyro_z(t_s, stride_s[0]), thigh_gyro_z(t_s, stride_s[1]))
        readings = tuple(
            ImuReading(i, (0.1 * i, -0.05 * i, gyro[i]), (0.2 * i, 9.81, -0.1 * i), 0) for i in IMU_IDS.values()
        )
        yield CycleRecord(
            cycle=cycle,
            t_ns=t_ns,
            state=int(state),
            imu_frames=[(cycle, cycle * 10_000, t_ns - 400_000, readings)],
            command=(right / 17.5, left / 17.5),
            shaped=(right, left, False, faulted),
            sent=(cycle, right, left, 0 if faulted else 1),
            statuses=[(cycle - 1, 0.9 * right, 0.9 * left, 0, 1, 1.5)] if cycle else [],
            lateness_ns=20_000 + cycle % 7 * 1000,
            skipped=0,
            stage_ns=tuple(1000 * (k + 1) for k in range(len(STAGES))),
            overrun=False,
            log_drops=0,
        )


def trial_metadata(stride_s: tuple[float, float]) -> dict[str, dict[str, str]]:
    return {
        "trial": {"subject_id": "S-walk", "condition": f"strides {stride_s[0]:g}/{stride_s[1]:g} s"},
        "config_device": {"yaml": default_config("device", "hip_exo").read_text()},
        "config_subject": {"yaml": f"kind: subject\nsubject_id: S-walk\nbody_mass_kg: {BODY_MASS_KG}\nheight_m: 1.7\n"},
    }


def events() -> list[tuple[int, str, str, dict]]:
    """(t_ns, kind, text, fields) as the runtime logs them."""
    onset, end = (round(t * 1e9) for t in FAULT_AT_S)
    return [
        (0, "state", "runtime started: controller synthetic", {"state": "START"}),
        (1_000_000, "state", "inputs healthy", {"state": "ARMED", "previous": "START", "t_cycle": 0}),
        (onset, "fault", "IMU stale: newest sample 31 ms old", {"state": "FAULT", "previous": "ASSISTING"}),
        (end, "state", "inputs healthy", {"state": "ARMED", "previous": "FAULT"}),
        (end + 500_000_000, "marker", "turnaround", {}),
    ]


def write_walking_trial(path: Path, stride_s: tuple[float, float], duration_s: float = 20.0) -> Path:
    """A trial log of ``duration_s`` of walking, through the real logger process (no record dropped)."""
    from firmware_bridge.trial.writer import TrialLogger

    logger = TrialLogger(
        path, trial_metadata(stride_s), {"manifest.json": b'{"model": "synthetic"}'}, 4096, WALL_OFFSET_NS, IMU_IDS
    )
    pending = sorted(events())
    for record in walking_records(duration_s, stride_s):
        while pending and pending[0][0] <= record.t_ns:
            t_ns, kind, text, fields = pending.pop(0)
            logger.event(t_ns, kind, text, **fields)
        logger.cycle(record)
        if record.cycle % 200 == 199:
            time.sleep(0.03)  # the logger drains its pipe every 20 ms: never let it fill
    assert logger.close() and logger.drops == 0
    return path
