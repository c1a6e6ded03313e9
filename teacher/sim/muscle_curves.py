"""MuJoCo's muscle force-length and force-velocity curves, vectorised over all muscles.

``mujoco.mju_muscleGain`` evaluates one muscle per call; the env reads all 22 every control step,
and the per-call overhead was a large share of the env's cost. These are the same piecewise
quadratics (MuJoCo ``engine_util_misc.c``); a test checks them against ``mju_muscleGain``.
"""

from __future__ import annotations

import numpy as np

MIN_VAL = 1e-15


def force_length(length_norm: np.ndarray, lmin: np.ndarray, lmax: np.ndarray) -> np.ndarray:
    """Active force-length multiplier (0..1) at normalised length (1 = optimal)."""
    a = 0.5 * (lmin + 1.0)
    b = 0.5 * (1.0 + lmax)
    x = length_norm
    rising_low = 0.5 * ((x - lmin) / np.maximum(MIN_VAL, a - lmin)) ** 2
    rising_high = 1.0 - 0.5 * ((1.0 - x) / np.maximum(MIN_VAL, 1.0 - a)) ** 2
    falling_high = 1.0 - 0.5 * ((x - 1.0) / np.maximum(MIN_VAL, b - 1.0)) ** 2
    falling_low = 0.5 * ((lmax - x) / np.maximum(MIN_VAL, lmax - b)) ** 2
    value = np.where(x <= a, rising_low, np.where(x <= 1.0, rising_high, np.where(x <= b, falling_high, falling_low)))
    return np.where((x < lmin) | (x > lmax), 0.0, value)


def force_velocity(velocity_norm: np.ndarray, fvmax: np.ndarray) -> np.ndarray:
    """Force-velocity multiplier at velocity in units of the maximum shortening velocity (+ = lengthening)."""
    v = velocity_norm
    y = fvmax - 1.0
    shortening = (v + 1.0) ** 2
    lengthening = fvmax - (y - v) ** 2 / np.maximum(MIN_VAL, y)
    value = np.where(v <= 0.0, shortening, np.where(v <= y, lengthening, fvmax))
    return np.where(v <= -1.0, 0.0, value)
