"""Bench scenarios (``kind: bench``): the IMU source, the emulator's settings, and timed faults with the
reaction each must produce."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.config import register_kind
from firmware_bridge.config.schema import spec

FAULT_TYPES = (
    "imu_loss",
    "corrupt",
    "delay_burst",
    "duplicate_seq",
    "out_of_order",
    "nan",
    "frozen",
    "disconnect",
    "estop",
    "motor_fault",
)


@dataclass(frozen=True)
class Expectation:
    zero_within_s: float | None = spec(None, gt=0.0, doc="torque disabled within this time of the injection")
    rearm: bool = spec(False, doc="re-armed through soft start (an ARMED transition) after the fault ends")
    no_fault: bool = spec(False, doc="assistance continues: no disabled command during the fault")


@dataclass(frozen=True)
class FaultSpec:
    type: str = spec(choices=FAULT_TYPES)
    at_s: float = spec(gt=0.0)
    duration_s: float = spec(gt=0.0)
    expect: Expectation = spec(Expectation())

    def validate(self) -> list[str]:
        e = self.expect
        if e.no_fault and (e.zero_within_s is not None or e.rearm):
            return ["expect: no_fault excludes zero_within_s and rearm"]
        if not (e.no_fault or e.zero_within_s is not None):
            return ["expect: give zero_within_s or no_fault"]
        return []


@dataclass(frozen=True)
class SourceSpec:
    kind: str = spec("recording", choices=("recording", "trial", "walker"))
    path: str = spec(
        "tum-ao-imu-walking/walk_4",
        doc="recording: a TUM folder or a recording map (kind: recording YAML, docs/recordings.md; relative: under "
        "shared/data); trial: a .mcap; walker: the teacher run dir",
    )
    alignment: str = spec(
        "functional",
        choices=("functional", "raw"),
        doc="recording only: functional rotates each sensor into its segment frame from the walking itself; raw "
        "sends the sensor frames, for a subject config calibrated with 'hipexo calibrate'",
    )
    speed_m_s: float = spec(1.25, gt=0.0, doc="walker only")
    slope_deg: float = spec(0.0, ge=-15.0, le=15.0, doc="walker only")
    seed: int = spec(0, doc="walker only: the first episode's seed; each next episode takes the next")
    episode_s: float = spec(
        10.0, gt=0.0, doc="walker only: episode length; episodes are paired by seed with the exo-off reference run"
    )
    root_support_fraction: float | None = spec(
        None, ge=0.0, le=1.0, doc="walker only: hold the pelvis along its path (None: as the teacher's stage does)"
    )


@dataclass(frozen=True)
class EmulatorSpec:
    watchdog_s: float = spec(0.05, gt=0.0)
    tau_s: float = spec(0.01, gt=0.0)
    limit_nm: float = spec(40.0, gt=0.0)


@dataclass(frozen=True)
class BenchScenario:
    duration_s: float = spec(30.0, gt=0.0)
    imu_rate_hz: float = spec(100.0, ge=50.0, le=500.0)
    clock_drift_ppm: float = spec(0.0, ge=-1000.0, le=1000.0, doc="the IMU's device clock against the bench's")
    source: SourceSpec = spec(SourceSpec())
    emulator: EmulatorSpec = spec(EmulatorSpec())
    faults: list[FaultSpec] = spec([])
    allow_unscheduled_faults: bool = spec(
        False, doc="pass even when the runtime faults outside the scheduled faults (each is still listed)"
    )

    def validate(self) -> list[str]:
        problems = []
        ordered = sorted(self.faults, key=lambda f: f.at_s)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if a.at_s + a.duration_s + 1.0 > b.at_s:
                problems.append(
                    f"faults: {a.type} at {a.at_s} s and {b.type} at {b.at_s} s need 1 s of recovery between"
                )
        if ordered and ordered[-1].at_s + ordered[-1].duration_s + 1.0 > self.duration_s:
            problems.append("faults: the last fault must end at least 1 s before duration_s")
        return problems


register_kind("bench", BenchScenario)
