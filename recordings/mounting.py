"""How each sensor sits on its segment, found from the recording itself (functional alignment).

The segment frame (docs/conventions.md): x forward, y up, z to the right, the same for both thighs, so hip
flexion is a positive rotation about +z on either side. Two observations fix it in a sensor's coordinates:

- **up** (+y): the specific force a still sensor feels is gravity, pointing up;
- **the flexion axis** (+z): walking turns a thigh mostly about it, so it is the principal axis of the thigh
  gyro; its sign makes swing (the shorter, faster lobe of the cycle, about 40 %) positive flexion.

:func:`functional_alignment` takes both from walking alone (the bench's and distillation's way to use a
recording whose mounting nobody wrote down). :func:`calibrate` is ``hipexo calibrate``: up from a still
stand, the axis from the walk that follows, for each thigh IMU. A pelvis sensor barely turns about a
consistent axis in walking, so its stand gives only its tilt; its heading about the vertical stays nominal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import yaml

from firmware_bridge.config import DeviceConfig
from firmware_bridge.conventions import GRAVITY_M_S2
from firmware_bridge.mounting import mounting_matrix, mounting_rpy_deg
from recordings.recording import Recording, RecordingError

THIGHS = ("thigh_r", "thigh_l")
STILL_GYRO_RAD_S = 0.2
STILL_ACCEL_M_S2 = 0.5
"""Still: |gyro| under this and |accel| within this of g, over a whole half second."""
MIN_STAND_S = 1.0
WALKING_GYRO_RMS_RAD_S = 0.6
MIN_WALK_S = 3.0
MOUNTING_COMMENT = (
    "# Measured sensor-to-segment rotations (hipexo calibrate); the runtime undoes them (docs/conventions.md)."
)
MAX_AXIS_TILT_DEG = 30.0
"""A thigh's walking axis further than this from horizontal is not a thigh walking straight."""


def segment_axes(up: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Rows x, y, z: the segment axes in sensor coordinates (so ``v_segment = R v_sensor``) from the up
    direction (kept exactly) and the flexion axis (made orthogonal to up)."""
    y = up / np.linalg.norm(up)
    z = axis - (axis @ y) * y
    if np.linalg.norm(z) < 1e-6:
        raise RecordingError("the rotation axis is vertical: the sensor shows no walking about a horizontal axis")
    z /= np.linalg.norm(z)
    return np.stack([np.cross(y, z), y, z])


def flexion_axis(gyro: np.ndarray) -> np.ndarray:
    """The principal rotation axis of walking, signed so that its shorter, faster lobe (swing) is positive."""
    centred = gyro - gyro.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    z = vectors[:, -1]
    return -z if np.mean(centred @ z > 0.0) > 0.5 else z


def functional_alignment(gyro: np.ndarray, accel: np.ndarray) -> np.ndarray:
    """Sensor→segment rotation from walking alone: the flexion axis exactly, and up from the mean specific force
    made orthogonal to it."""
    z = flexion_axis(gyro)
    up = accel.mean(axis=0)
    y = up - (up @ z) * z
    if np.linalg.norm(y) < 1e-6:
        raise RecordingError("the accelerometers show no gravity off the rotation axis: not a walking recording")
    return segment_axes(y, z)


def segment_frames(recording: Recording, names: tuple[str, ...], rate_hz: float) -> np.ndarray:
    """``(T, len(names), 6)``: each IMU resampled at ``rate_hz`` and rotated into its segment frame by
    :func:`functional_alignment`."""
    data = recording.resampled(names, rate_hz)
    for k, name in enumerate(names):
        try:
            rotation = functional_alignment(data[:, k, :3], data[:, k, 3:])
        except RecordingError as exc:
            raise RecordingError(f"{recording.imus[name].origin}: {name}: {exc}") from None
        data[:, k, :3] = data[:, k, :3] @ rotation.T
        data[:, k, 3:] = data[:, k, 3:] @ rotation.T
    return data


@dataclass(frozen=True)
class MountingEstimate:
    """One IMU's measured sensor-to-segment rotation, and what it rests on."""

    imu: str
    rotation: np.ndarray
    """``M``: v_segment = M v_sensor."""
    method: str
    standing_s: float
    walking_s: float
    axis_tilt_deg: float | None
    """How far the walking axis was from horizontal before it was made so (thighs only)."""

    @property
    def rpy_deg(self) -> list[float]:
        return [round(a, 2) for a in mounting_rpy_deg(self.rotation)]


def calibrate(recording: Recording, device: DeviceConfig, rate_hz: float = 100.0) -> dict[str, MountingEstimate]:
    """The mounting of every device IMU the recording holds, from a still stand and a walk."""
    names = tuple(imu.name for imu in device.imus if imu.name in recording.imus)
    if not names:
        raise RecordingError(
            f"{recording.path}: none of the device's IMUs {[i.name for i in device.imus]} is in the recording "
            f"(it has {sorted(recording.imus)})"
        )
    segments = {imu.name: imu for imu in device.imus}
    out = {}
    for name in names:
        stream = recording.imus[name]
        data = recording.resampled((name,), rate_hz)[:, 0]
        try:
            out[name] = _estimate(name, data[:, :3], data[:, 3:], rate_hz, segments[name])
        except RecordingError as exc:
            raise RecordingError(f"{stream.origin}: {name}: {exc}") from None
    return out


def _estimate(name: str, gyro: np.ndarray, accel: np.ndarray, rate_hz: float, mount) -> MountingEstimate:
    stand = _longest_still(gyro, accel, rate_hz)
    up = accel[stand].mean(axis=0)
    standing_s = (stand.stop - stand.start) / rate_hz
    if mount.segment not in THIGHS:
        nominal = mounting_matrix(mount.mounting_rpy_deg)
        rotation = nominal @ _rotation_between(up / np.linalg.norm(up), nominal.T @ np.array([0.0, 1.0, 0.0]))
        return MountingEstimate(name, rotation, "tilt from the stand; heading nominal", standing_s, 0.0, None)
    walking = _walking(gyro, rate_hz)
    walking_s = walking.sum() / rate_hz
    if walking_s < MIN_WALK_S:
        raise RecordingError(
            f"only {walking_s:.1f} s of walking (gyro RMS over {WALKING_GYRO_RMS_RAD_S:g} rad/s); "
            f"record at least {MIN_WALK_S:g} s of straight walking after the stand"
        )
    u = up / np.linalg.norm(up)
    tilt = math.degrees(math.asin(min(1.0, abs(flexion_axis(gyro[walking]) @ u))))
    if tilt > MAX_AXIS_TILT_DEG:
        raise RecordingError(
            f"the walking rotation axis is {tilt:.0f}° from horizontal (more than {MAX_AXIS_TILT_DEG:g}°): "
            "is this sensor on a thigh, and did the subject walk straight?"
        )
    horizontal = gyro[walking] - np.outer(gyro[walking] @ u, u)  # turning about the vertical says nothing of the axis
    rotation = segment_axes(up, flexion_axis(horizontal))
    return MountingEstimate(
        name, rotation, "functional: up from the stand, axis from the walk", standing_s, walking_s, tilt
    )


def _longest_still(gyro: np.ndarray, accel: np.ndarray, rate_hz: float) -> slice:
    """The longest run of samples whose whole surrounding half second is still."""
    still = (np.linalg.norm(gyro, axis=1) < STILL_GYRO_RAD_S) & (
        np.abs(np.linalg.norm(accel, axis=1) - GRAVITY_M_S2) < STILL_ACCEL_M_S2
    )
    half = max(1, round(0.25 * rate_hz))
    moving = np.convolve(~still, np.ones(2 * half + 1), mode="same") > 0
    best, start = slice(0, 0), None
    for k, quiet in enumerate([*~moving, False]):
        if quiet and start is None:
            start = k
        elif not quiet and start is not None:
            best = max(best, slice(start, k), key=lambda s: s.stop - s.start)
            start = None
    if (best.stop - best.start) / rate_hz < MIN_STAND_S:
        raise RecordingError(
            f"no still stand of {MIN_STAND_S:g} s (gyro under {STILL_GYRO_RAD_S:g} rad/s, accel within "
            f"{STILL_ACCEL_M_S2:g} m/s² of g): start the recording with the subject standing still"
        )
    return best


def _walking(gyro: np.ndarray, rate_hz: float) -> np.ndarray:
    """Samples whose surrounding second has a gyro RMS of walking."""
    window = np.ones(max(1, round(rate_hz))) / max(1, round(rate_hz))
    rms = np.sqrt(np.convolve(np.sum(gyro**2, axis=1), window, mode="same"))
    return rms > WALKING_GYRO_RMS_RAD_S


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector ``a`` onto unit vector ``b``."""
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        raise RecordingError("the sensor is upside down against its nominal mounting: check mounting_rpy_deg")
    k = axis / s
    skew = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + s * skew + (1.0 - c) * skew @ skew


def with_mounting(subject_yaml: str, estimates: dict[str, MountingEstimate], source: str) -> str:
    """The subject config's text with its ``imu_mounting`` block replaced by ``estimates`` (the rest, comments
    included, kept as it was)."""
    lines = subject_yaml.splitlines()
    kept, inside = [], False
    for line in lines:
        if line.startswith("imu_mounting:"):
            inside = True
            continue
        if inside and line.strip() and not line[0].isspace():
            inside = False
        if not inside and line != MOUNTING_COMMENT:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    block = yaml.safe_dump(
        {"imu_mounting": {name: {"rpy_deg": e.rpy_deg, "source": source} for name, e in estimates.items()}},
        sort_keys=False,
        default_flow_style=None,
        allow_unicode=True,
        width=120,
    )
    return "\n".join([*kept, MOUNTING_COMMENT, block.rstrip()]) + "\n"
