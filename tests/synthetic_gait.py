"""A known body motion seen by IMUs mounted in known ways: a still stand, then straight walking.

The segment frames follow docs/conventions.md (x forward, y up, z right; flexion about +z on both thighs).
Each thigh flexes and extends with a short, fast swing lobe (38 % of the stride) and a long stance lobe, with
a little ab/adduction and axial rotation; the pelvis tilts, rolls and yaws a few degrees. Angular velocity is
analytic; specific force is the second difference of the sensor's position on a 1 kHz grid, plus gravity.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from firmware_bridge.conventions import GRAVITY_M_S2
from firmware_bridge.mounting import mounting_matrix

FINE_HZ = 1000.0
STRIDE_S = 1.1
SPEED_M_S = 1.2
SENSOR_OFFSET_M = {"pelvis": (-0.12, 0.05, 0.0), "thigh_r": (0.05, -0.2, 0.07), "thigh_l": (0.05, -0.2, -0.07)}
PHASE = {"pelvis": 0.0, "thigh_r": 0.0, "thigh_l": 0.5}


def _rx(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _hip_flexion(phase: np.ndarray) -> np.ndarray:
    """Flexion angle velocity shape over a stride: a long negative (stance) and a short positive (swing) lobe."""
    stance = 0.62
    return np.where(
        phase < stance,
        -np.sin(np.pi * phase / stance),
        stance / (1 - stance) * np.sin(np.pi * (phase - stance) / (1 - stance)),
    )


def segment_motion(name: str, stand_s: float, walk_s: float) -> dict[str, np.ndarray]:
    """On the 1 kHz grid: time, world←segment rotation, segment-frame angular velocity and specific force."""
    t = np.arange(0.0, stand_s + walk_s, 1.0 / FINE_HZ)
    walking = np.clip((t - stand_s) / 1.0, 0.0, 1.0)  # amplitude ramps up over the first second of walking
    phase = np.mod((t - stand_s) / STRIDE_S + PHASE[name], 1.0)
    stride = 2 * np.pi * phase
    if name == "pelvis":
        angles = [0.07 * np.sin(stride), 0.035 * np.sin(2 * stride + 0.5), 0.09 * np.sin(stride + 1.0)]  # x, y, z
    else:
        flexion_rate = 1.8 * _hip_flexion(phase)
        flexion = np.cumsum(walking * flexion_rate) / FINE_HZ
        flexion -= np.where(t >= stand_s, np.mean(flexion[t >= stand_s]), 0.0) * walking
        angles = [0.05 * np.sin(2 * stride + 0.3), 0.06 * np.sin(stride + 1.2), flexion]
    x, y, z = (walking * a if k < 2 or name == "pelvis" else a for k, a in enumerate(angles))
    r_ws = _rz(z) @ _rx(x) @ _ry(y)
    dz, dx, dy = (np.gradient(a, 1.0 / FINE_HZ) for a in (z, x, y))
    e = np.eye(3)
    ry_t, rx_t = np.swapaxes(_ry(y), 1, 2), np.swapaxes(_rx(x), 1, 2)
    omega = (
        np.einsum("tij,tjk,k->ti", ry_t, rx_t, e[2]) * dz[:, None]
        + np.einsum("tij,j->ti", ry_t, e[0]) * dx[:, None]
        + e[1] * dy[:, None]
    )
    hip = np.stack([SPEED_M_S * np.maximum(t - stand_s, 0.0), 0.9 + 0.02 * walking * np.cos(2 * stride), 0 * t], -1)
    position = hip + np.einsum("tij,j->ti", r_ws, SENSOR_OFFSET_M[name])
    acceleration = np.gradient(np.gradient(position, 1.0 / FINE_HZ, axis=0), 1.0 / FINE_HZ, axis=0)
    specific_force = np.einsum("tji,tj->ti", r_ws, acceleration + GRAVITY_M_S2 * e[1])
    return {"time_s": t, "r_ws": r_ws, "gyro": omega, "accel": specific_force}


def imu_readings(
    name: str, rpy_deg: list[float], rate_hz: float, stand_s: float = 1.5, walk_s: float = 6.0, noise: float = 0.0
) -> dict[str, np.ndarray]:
    """What an IMU mounted at ``rpy_deg`` on segment ``name`` reads at ``rate_hz``: sensor-frame gyro and
    accel, the world←sensor rotation, and the segment-frame truth."""
    motion = segment_motion(name, stand_s, walk_s)
    pick = np.arange(0, len(motion["time_s"]), round(FINE_HZ / rate_hz))
    mount = mounting_matrix(rpy_deg)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    gyro_seg, accel_seg = motion["gyro"][pick], motion["accel"][pick]
    return {
        "time_s": motion["time_s"][pick],
        "gyro": gyro_seg @ mount + noise * rng.normal(size=gyro_seg.shape) * 0.02,
        "accel": accel_seg @ mount + noise * rng.normal(size=accel_seg.shape) * 0.05,
        "r_w_sensor": motion["r_ws"][pick] @ mount,
        "gyro_segment": gyro_seg,
        "accel_segment": accel_seg,
    }


def global_from_world(heading_deg: float) -> np.ndarray:
    """Xsens's ENU frame ← the walking frame (x forward at ``heading_deg`` east of north, y up, z right)."""
    h = math.radians(heading_deg)
    forward, up = np.array([math.sin(h), math.cos(h), 0.0]), np.array([0.0, 0.0, 1.0])
    return np.column_stack([forward, up, np.cross(forward, up)])


def quaternions(r: np.ndarray) -> np.ndarray:
    """(T, 4) unit quaternions (w first, w >= 0) of (T, 3, 3) rotation matrices."""
    w = np.sqrt(np.maximum(0.0, 1.0 + np.trace(r, axis1=1, axis2=2))) / 2.0
    x = np.copysign(np.sqrt(np.maximum(0.0, 1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2])) / 2.0, r[:, 2, 1] - r[:, 1, 2])
    y = np.copysign(np.sqrt(np.maximum(0.0, 1.0 - r[:, 0, 0] + r[:, 1, 1] - r[:, 2, 2])) / 2.0, r[:, 0, 2] - r[:, 2, 0])
    z = np.copysign(np.sqrt(np.maximum(0.0, 1.0 - r[:, 0, 0] - r[:, 1, 1] + r[:, 2, 2])) / 2.0, r[:, 1, 0] - r[:, 0, 1])
    return np.stack([w, x, y, z], -1)
