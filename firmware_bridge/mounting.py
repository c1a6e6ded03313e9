"""IMU mounting rotations: how a sensor sits on its segment, and what the runtime undoes (docs/conventions.md).

A mounting is the sensor frame's orientation in the segment frame, as roll-pitch-yaw in degrees applied about
the sensor's own x, then y, then z axes (MuJoCo's intrinsic ``xyz`` Euler sequence): ``M = Rx(roll) Ry(pitch)
Rz(yaw)``, whose columns are the sensor axes in segment coordinates, so ``v_segment = M v_sensor``.

The device config's ``imus[].mounting_rpy_deg`` is the **nominal** mounting: the simulator puts its sensors
there, so the student learnt readings in that frame. A subject config's ``imu_mounting`` is the **measured**
mounting on that person (``hipexo calibrate``). The runtime turns each reading into the frame the student
learnt: ``v_nominal = M_nominal^T M_measured v_sensor`` (the identity where an IMU was not calibrated).
"""

from __future__ import annotations

import math

import numpy as np

from firmware_bridge.config.models import DeviceConfig, SubjectConfig
from firmware_bridge.config.schema import ConfigError


def rotation_xyz(angles_rad: np.ndarray | list[float] | tuple[float, ...]) -> np.ndarray:
    """``Rx(a) Ry(b) Rz(c)`` for angles (a, b, c) in radians."""
    rx, ry, rz = (float(a) for a in angles_rad)
    cx, sx, cy, sy, cz, sz = math.cos(rx), math.sin(rx), math.cos(ry), math.sin(ry), math.cos(rz), math.sin(rz)
    x = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    y = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    z = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    return x @ y @ z


def mounting_matrix(rpy_deg: list[float] | tuple[float, ...]) -> np.ndarray:
    """The sensor-to-segment rotation ``M`` of a mounting given as roll-pitch-yaw degrees."""
    return rotation_xyz(np.radians(rpy_deg))


def mounting_rpy_deg(matrix: np.ndarray) -> tuple[float, float, float]:
    """Roll-pitch-yaw degrees of a sensor-to-segment rotation (the inverse of :func:`mounting_matrix`)."""
    m = np.asarray(matrix, dtype=float)
    pitch = math.asin(max(-1.0, min(1.0, m[0, 2])))
    roll = math.atan2(-m[1, 2], m[2, 2])
    yaw = math.atan2(-m[0, 1], m[0, 0])
    return math.degrees(roll), math.degrees(pitch), math.degrees(yaw)


def mounting_corrections(
    device: DeviceConfig, subject: SubjectConfig, subject_source: str = "the subject config"
) -> dict[str, np.ndarray]:
    """Per calibrated IMU, the rotation ``M_nominal^T M_measured`` that takes its readings into the nominal
    sensor frame. A calibration for an IMU the device does not have is a :class:`ConfigError`."""
    nominal = {imu.name: imu.mounting_rpy_deg for imu in device.imus}
    unknown = [name for name in subject.imu_mounting if name not in nominal]
    if unknown:
        raise ConfigError(
            subject_source,
            [
                f"imu_mounting.{name}: device {device.name!r} has no IMU {name!r} (it has {sorted(nominal)})"
                for name in unknown
            ],
        )
    return {
        name: mounting_matrix(nominal[name]).T @ mounting_matrix(calibration.rpy_deg)
        for name, calibration in subject.imu_mounting.items()
    }
