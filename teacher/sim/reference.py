"""Reference gait from Fukuchi et al. 2018 (teacher/data/README.md), interpolated between speeds.

Curves are indexed by gait phase in [0, 1) from heel strike of the right leg; the left leg follows
the same curve half a cycle later. Angles and moments are returned in the simulator's convention (radians;
hip flexion +, **knee flexion −** as in the OpenSim-derived model, ankle dorsiflexion +; moments in N·m/kg,
positive along the model's coordinates), :meth:`ReferenceGait.curves` in the dataset's (degrees; moments
hip flexion +, knee extension +, ankle plantarflexion +).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
from numba import njit

ANGLE_COLUMNS = ("hip_angle_deg", "knee_angle_deg", "ankle_angle_deg")
MOMENT_COLUMNS = ("hip_moment_nm_per_kg", "knee_moment_nm_per_kg", "ankle_moment_nm_per_kg")
MODEL_ANGLE_SIGN = np.array([1.0, -1.0, 1.0])
"""Dataset → model sign for (hip, knee, ankle) angles: the model's knee angle is negative in flexion."""
MODEL_MOMENT_SIGN = np.array([1.0, 1.0, -1.0])
"""Dataset → model sign for (hip, knee, ankle) moments. The dataset's moments are hip flexor +, knee extensor +,
ankle plantarflexor + (../shared/data/fukuchi2018-treadmill/README.md, verified from the numbers); the model's
coordinates are hip flexion +, knee extension + (the vasti's moment is positive), ankle dorsiflexion + (the
soleus's is negative)."""
SAMPLES = 101
SIDE_PHASE_OFFSETS = np.array([0.0, 0.5])
"""The left leg follows the right half a cycle later."""


@dataclass(frozen=True)
class GaitSample:
    """Reference at one instant; arrays are (side, joint) with sides (right, left), joints (hip, knee, ankle)."""

    angles_rad: np.ndarray
    velocities_rad_s: np.ndarray
    moments_nm_per_kg: np.ndarray
    """Net joint moments (inverse dynamics), model sign."""

    @property
    def hip_moment_nm_per_kg(self) -> np.ndarray:
        """(side,) hip moments, flexion + in both conventions."""
        return self.moments_nm_per_kg[:, 0]


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
        self._cached_speed: float | None = None
        self._cached: tuple[np.ndarray, np.ndarray, float] = (table[0], table[0], 0.0)

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
        angles, velocities, moments = self.sample_phases(speed_m_s, np.array([phase]))
        return GaitSample(angles[0], velocities[0], moments[0])

    def sample_phases(self, speed_m_s: float, phases: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vectorised :meth:`sample` over phases: angles, velocities and moments, each (n, side, joint)."""
        rad, moments, stride = self._model_curves(speed_m_s)
        return _interpolate(rad, moments, stride, np.asarray(phases, dtype=np.float64), SIDE_PHASE_OFFSETS)

    def _model_curves(self, speed_m_s: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Angle curves in radians and moment curves, both model sign, and the stride time; cached (a speed holds
        per episode)."""
        if self._cached_speed != speed_m_s:
            curves = self.curves(speed_m_s)
            self._cached = (
                np.deg2rad(curves[:, :3]) * MODEL_ANGLE_SIGN,
                curves[:, 3:] * MODEL_MOMENT_SIGN,
                self.stride_time_s(speed_m_s),
            )
            self._cached_speed = speed_m_s
        return self._cached


@njit(cache=True)
def _interpolate(rad, moments, stride_s, phases, side_offsets):
    """Linear interpolation of the 101-sample curves at each (phase + side offset) mod 1; the velocity is the
    slope of the segment the phase falls in. Compiled: the env samples the reference every control step."""
    n, sides, joints = len(phases), len(side_offsets), rad.shape[1]
    angles, velocities, moment = (
        np.empty((n, sides, joints)),
        np.empty((n, sides, joints)),
        np.empty((n, sides, joints)),
    )
    for p in range(n):
        for s in range(sides):
            x = ((phases[p] + side_offsets[s]) % 1.0) * (SAMPLES - 1)
            i = min(int(x), SAMPLES - 2)
            w = x - i
            for j in range(joints):
                angles[p, s, j] = (1.0 - w) * rad[i, j] + w * rad[i + 1, j]
                velocities[p, s, j] = (rad[i + 1, j] - rad[i, j]) * ((SAMPLES - 1) / stride_s)
                moment[p, s, j] = (1.0 - w) * moments[i, j] + w * moments[i + 1, j]
    return angles, velocities, moment
