"""IMU sources for the bench: what the simulated sensors report, one sample per period.

Every source yields ``{imu_id: (gyro xyz rad/s, accel xyz m/s²)}`` in the device's frames (segment frames, or a
recording's own sensor frames for a runtime that undoes their measured mounting) at its ``rate_hz``, and is told the torque the runtime commands (``apply_torque``). Open-loop sources (a real
recording, a logged trial) ignore it; the closed-loop simulated walker (the deploy issue) applies it to the
simulation, through the same interface.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

from firmware_bridge.config import DeviceConfig
from firmware_bridge.trial.channels import ACCEL, GYRO
from recordings import RecordingError, open_recording, segment_frames

Reading = tuple[tuple[float, float, float], tuple[float, float, float]]
ALIGNMENTS = ("functional", "raw")


class ImuSource(Protocol):
    rate_hz: float
    duration_s: float | None

    def sample(self, index: int) -> dict[int, Reading] | None:
        """Sample ``index`` (at ``index / rate_hz`` s), or None past the end."""
        ...

    def apply_torque(self, right_nm: float, left_nm: float) -> None:
        """The torque the device commands now (closed-loop sources act on it)."""
        ...


class RecordingSource:
    """A real IMU recording (any format :func:`recordings.open_recording` reads), resampled to a uniform grid.

    Every IMU of the device config must be in the recording. ``alignment``: ``functional`` rotates each sensor
    into its segment frame from the walking itself (:func:`recordings.functional_alignment`: for recordings
    whose mounting is unknown); ``raw`` sends the sensor frames as recorded, for a runtime whose subject
    config carries the mounting measured by ``hipexo calibrate``. Loops when ``loop`` is set.
    """

    def __init__(
        self, path: Path, device: DeviceConfig, rate_hz: float = 100.0, loop: bool = True, alignment: str = "functional"
    ):
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
        self.rate_hz = rate_hz
        self.loop = loop
        ids = device.imu_ids()
        names = tuple(ids)
        recording = open_recording(path)
        if alignment == "functional":
            self.data = segment_frames(recording, names, rate_hz)
        else:
            self.data = recording.resampled(names, rate_hz)
        self.samples = len(self.data)
        self.duration_s = None if loop else (self.samples - 1) / rate_hz
        self.imu_ids = [ids[name] for name in names]

    def sample(self, index: int) -> dict[int, Reading] | None:
        if index >= self.samples:
            if not self.loop:
                return None
            index %= self.samples
        row = self.data[index]
        return {i: (tuple(row[k, :3]), tuple(row[k, 3:])) for k, i in enumerate(self.imu_ids)}

    def apply_torque(self, right_nm: float, left_nm: float) -> None:
        """Open loop: a recording does not react to assistance."""


def _values(reading: dict, names: tuple[str, ...]) -> tuple[float, ...]:
    """A logged reading's fields as floats (``null``, a value that was not finite, as NaN)."""
    return tuple(math.nan if reading[name] is None else reading[name] for name in names)


class TrialReplaySource:
    """The IMU frames of a logged trial, replayed in order at the given rate (one frame per period)."""

    def __init__(self, trial: Path, rate_hz: float = 100.0):
        from firmware_bridge.trial.reader import read_trial

        log = read_trial(trial)
        frames = log.topic("/imu/raw")
        if not frames:
            raise RecordingError(f"{trial}: the trial log has no IMU frames")
        self.rate_hz = rate_hz
        self.duration_s = len(frames) / rate_hz
        self.frames = [
            {r["imu_id"]: (_values(r, GYRO), _values(r, ACCEL)) for r in frame.values() if isinstance(r, dict)}
            for frame in frames
        ]

    def sample(self, index: int) -> dict[int, Reading] | None:
        return self.frames[index] if index < len(self.frames) else None

    def apply_torque(self, right_nm: float, left_nm: float) -> None:
        """Open loop: a replay does not react to assistance."""
