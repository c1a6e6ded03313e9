"""IMU sources for the bench: what the simulated sensors report, one sample per period.

Every source yields ``{imu_id: (gyro xyz rad/s, accel xyz m/s²)}`` in the device's segment frames at its
``rate_hz``, and is told the torque the runtime commands (``apply_torque``). Open-loop sources (a real
recording, a logged trial) ignore it; the closed-loop simulated walker (the deploy issue) applies it to the
simulation, through the same interface.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Protocol

import numpy as np

from firmware_bridge.config import DeviceConfig
from firmware_bridge.trial.channels import ACCEL, GYRO

Reading = tuple[tuple[float, float, float], tuple[float, float, float]]
SEGMENTS = ("Pelvis", "UppLeg", "LowLeg", "Foot")
TUM_FIELDS = 1 + 3 * len(SEGMENTS)
TUM_IMUS = {"pelvis": ("right", "Pelvis"), "thigh_r": ("right", "UppLeg"), "thigh_l": ("left", "UppLeg")}
"""Device IMU → (file side, segment) in the TUM recording: the right file's pelvis sensor is the belt's."""


class RecordingError(ValueError):
    """A recording file that cannot be used; the message names the file and the problem."""


class ImuSource(Protocol):
    rate_hz: float
    duration_s: float | None

    def sample(self, index: int) -> dict[int, Reading] | None:
        """Sample ``index`` (at ``index / rate_hz`` s), or None past the end."""
        ...

    def apply_torque(self, right_nm: float, left_nm: float) -> None:
        """The torque the device commands now (closed-loop sources act on it)."""
        ...


def _read_tum_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times (s, from the first row) and the 12 value columns; handles the header's extra empty field.

    Anything that makes the file unusable (unreadable, empty, a row of the wrong width, a value that is not a
    finite number, time that does not increase) is a :class:`RecordingError` naming the file and the row.
    """
    try:
        with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as f:
            lines = f.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read ({exc})") from exc
    if not lines:
        raise RecordingError(f"{path}: empty file")
    times, values = [], []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != TUM_FIELDS:
            raise RecordingError(
                f"{path}:{number}: expected {TUM_FIELDS} tab-separated fields (time and 4 segments × xyz), "
                f"got {len(fields)}: missing or extra columns"
            )
        try:
            h, m, s = fields[0].split(":")
            times.append(int(h) * 3600 + int(m) * 60 + float(s))
            row = [float(v) for v in fields[1:]]
        except ValueError as exc:
            raise RecordingError(f"{path}:{number}: not a time and 12 numbers ({exc})") from exc
        bad = [k for k, v in enumerate(row) if not math.isfinite(v)]
        if bad or not math.isfinite(times[-1]):
            raise RecordingError(
                f"{path}:{number}: value {fields[1 + bad[0]] if bad else fields[0]!r} is not a finite number"
            )
        values.append(row)
    if len(times) < 2:
        raise RecordingError(f"{path}: fewer than two samples")
    t = np.array(times)
    t = np.where(t < t[0], t + 86400.0, t) - t[0]  # past midnight
    steps = np.diff(t)
    if np.any(steps <= 0):
        row = int(np.argmax(steps <= 0)) + 3  # the row whose time is not after the previous one's (1-based, header)
        raise RecordingError(f"{path}:{row}: time {lines[row - 1].split(chr(9))[0]} does not increase")
    return t, np.array(values)


def functional_alignment(gyro: np.ndarray, accel: np.ndarray) -> np.ndarray:
    """Sensor→segment rotation from walking data: z = main rotation axis, signed so that swing (the shorter
    lobe of the cycle, ~40 %) is positive flexion; y = mean specific force (up), made orthogonal; x = y × z."""
    centred = gyro - gyro.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    z = vectors[:, -1]
    if np.mean(centred @ z > 0.0) > 0.5:  # swing (flexion) is the shorter, faster lobe of the cycle
        z = -z
    up = accel.mean(axis=0)
    y = up - (up @ z) * z
    if np.linalg.norm(y) < 1e-6:
        raise RecordingError("the accelerometers show no gravity off the rotation axis: not a walking recording")
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    return np.stack([x, y, z])  # rows: segment axes in sensor coordinates


class RecordingSource:
    """A TUM-format IMU recording (shared/data/tum-ao-imu-walking), resampled to a uniform grid.

    Gyro deg/s → rad/s; each sensor rotated into its segment frame with the functional alignment above
    (the upstream mounting is undocumented). Loops when ``loop`` is set.
    """

    def __init__(self, folder: Path, device: DeviceConfig, rate_hz: float = 100.0, loop: bool = True):
        self.folder = Path(folder)
        self.rate_hz = rate_hz
        self.loop = loop
        ids = device.imu_ids()
        missing = [name for name in TUM_IMUS if name not in ids]
        if missing:
            raise RecordingError(f"device config has no IMUs {missing} to map the recording onto")
        if not self.folder.is_dir():
            raise RecordingError(f"{self.folder}: no such recording folder")
        tables = {}
        for side in ("left", "right"):
            for kind in ("Gyroscopes", "Accelerometers"):
                path = self.folder / f"{kind}_{side}.txt.gz"
                if not path.exists():
                    raise RecordingError(f"{self.folder}: missing {path.name}")
                tables[kind, side] = _read_tum_table(path)
        end = min(t[-1] for t, _ in tables.values())
        grid = np.arange(0.0, end, 1.0 / rate_hz)
        self.duration_s = None if loop else float(grid[-1])
        self.samples = len(grid)
        self.data = np.zeros((len(grid), len(TUM_IMUS), 6))
        self.imu_ids = []
        self.alignments = {}
        for k, (name, (side, segment)) in enumerate(TUM_IMUS.items()):
            col = SEGMENTS.index(segment) * 3
            t_g, g = tables["Gyroscopes", side]
            t_a, a = tables["Accelerometers", side]
            gyro = np.column_stack([np.interp(grid, t_g, g[:, col + i]) for i in range(3)]) * math.pi / 180.0
            accel = np.column_stack([np.interp(grid, t_a, a[:, col + i]) for i in range(3)])
            try:
                rotation = functional_alignment(gyro, accel)
            except RecordingError as exc:
                raise RecordingError(f"{self.folder} ({side} {segment}): {exc}") from None
            self.alignments[name] = rotation
            self.data[:, k, :3] = gyro @ rotation.T
            self.data[:, k, 3:] = accel @ rotation.T
            self.imu_ids.append(ids[name])

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
