"""Reference gait from Fukuchi et al. 2018 (teacher/data/README.md), interpolated between speeds.

Curves are indexed by gait phase in [0, 1) from heel strike of the right leg; the left leg follows
the same curve half a cycle later. Angles are returned in the simulator's convention (radians; hip
flexion +, **knee flexion −** as in the OpenSim-derived model, ankle dorsiflexion +) and moments in
the project's convention (N·m/kg, flexion +).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files

import numpy as np

ANGLE_COLUMNS = ("hip_angle_deg", "knee_angle_deg", "ankle_angle_deg")
MOMENT_COLUMNS = ("hip_moment_nm_per_kg", "knee_moment_nm_per_kg", "ankle_moment_nm_per_kg")
MODEL_ANGLE_SIGN = np.array([1.0, -1.0, 1.0])
"""Dataset → model sign for (hip, knee, ankle): the model's knee angle is negative in flexion."""
SAMPLES = 101


@dataclass(frozen=True)
class GaitSample:
    """Reference at one instant; arrays are (side, joint) with sides (right, left), joints (hip, knee, ankle)."""

    angles_rad: np.ndarray
    velocities_rad_s: np.ndarray
    hip_moment_nm_per_kg: np.ndarray


class ReferenceGait:
    """Speed-interpolated reference joint angles and moments over the gait cycle."""

    def __init__(self, stride_length_at_1_25_m: float = 1.40, stride_length_exponent: float = 0.5):
        rows = list(csv.DictReader(files("teacher.data").joinpath("fukuchi2018_reference_gait.csv").open()))
        speeds = sorted({float(r["speed_m_s"]) for r in rows})
        self.speeds = np.array(speeds)
        table = np.zeros((len(speeds), SAMPLES, 6))
        for r in rows:
            k = speeds.index(float(r["speed_m_s"]))
            table[k, int(r["gc_percent"])] = [float(r[c]) for c in ANGLE_COLUMNS + MOMENT_COLUMNS]
        self.table = table
        self.stride_length_at_1_25_m = stride_length_at_1_25_m
        self.stride_length_exponent = stride_length_exponent

    def stride_time_s(self, speed_m_s: float) -> float:
        """Stride duration from a power-law stride length (Grieve-style), longer strides when faster."""
        length = self.stride_length_at_1_25_m * (speed_m_s / 1.25) ** self.stride_length_exponent
        return length / speed_m_s

    def curves(self, speed_m_s: float) -> np.ndarray:
        """(101, 6) curves at this speed: hip, knee, ankle angle (deg, dataset sign) and moments (N·m/kg)."""
        s = float(np.clip(speed_m_s, self.speeds[0], self.speeds[-1]))
        k = int(np.clip(np.searchsorted(self.speeds, s) - 1, 0, len(self.speeds) - 2))
        w = (s - self.speeds[k]) / (self.speeds[k + 1] - self.speeds[k])
        return (1.0 - w) * self.table[k] + w * self.table[k + 1]

    def sample(self, speed_m_s: float, phase: float) -> GaitSample:
        curves = self.curves(speed_m_s)
        stride = self.stride_time_s(speed_m_s)
        angles = np.empty((2, 3))
        velocities = np.empty((2, 3))
        moments = np.empty(2)
        for side, offset in enumerate((0.0, 0.5)):
            x = ((phase + offset) % 1.0) * (SAMPLES - 1)
            i = int(x) % (SAMPLES - 1)
            w = x - int(x)
            nxt = curves[i + 1]
            value = (1.0 - w) * curves[i] + w * nxt
            angles[side] = np.deg2rad(value[:3]) * MODEL_ANGLE_SIGN
            velocities[side] = np.deg2rad(nxt[:3] - curves[i][:3]) * (SAMPLES - 1) / stride * MODEL_ANGLE_SIGN
            moments[side] = value[3]
        return GaitSample(angles, velocities, moments)
