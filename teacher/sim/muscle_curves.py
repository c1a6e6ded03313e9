"""MuJoCo's muscle force-length and force-velocity curves, over all muscles in one compiled loop.

``mujoco.mju_muscleGain`` evaluates one muscle per call; the env reads all 22 every control step, and
both per-call overhead and numpy's small-array overhead were a large share of the env's cost. These are
the same piecewise quadratics (MuJoCo ``engine_util_misc.c``); a test checks them against ``mju_muscleGain``.
Every argument holds one value per muscle (same lengths; no broadcasting).
"""

from __future__ import annotations

import numpy as np
from numba import njit

MIN_VAL = 1e-15


@njit(cache=True)
def force_length(length_norm: np.ndarray, lmin: np.ndarray, lmax: np.ndarray) -> np.ndarray:
    """Active force-length multiplier (0..1) at normalised length (1 = optimal)."""
    out = np.empty(len(length_norm))
    for i in range(len(length_norm)):
        x, low, high = length_norm[i], lmin[i], lmax[i]
        a = 0.5 * (low + 1.0)
        b = 0.5 * (1.0 + high)
        if x < low or x > high:
            out[i] = 0.0
        elif x <= a:
            out[i] = 0.5 * ((x - low) / max(MIN_VAL, a - low)) ** 2
        elif x <= 1.0:
            out[i] = 1.0 - 0.5 * ((1.0 - x) / max(MIN_VAL, 1.0 - a)) ** 2
        elif x <= b:
            out[i] = 1.0 - 0.5 * ((x - 1.0) / max(MIN_VAL, b - 1.0)) ** 2
        else:
            out[i] = 0.5 * ((high - x) / max(MIN_VAL, high - b)) ** 2
    return out


@njit(cache=True)
def force_velocity(velocity_norm: np.ndarray, fvmax: np.ndarray) -> np.ndarray:
    """Force-velocity multiplier at velocity in units of the maximum shortening velocity (+ = lengthening)."""
    out = np.empty(len(velocity_norm))
    for i in range(len(velocity_norm)):
        v, top = velocity_norm[i], fvmax[i]
        y = top - 1.0
        if v <= -1.0:
            out[i] = 0.0
        elif v <= 0.0:
            out[i] = (v + 1.0) ** 2
        elif v <= y:
            out[i] = top - (y - v) ** 2 / max(MIN_VAL, y)
        else:
            out[i] = top
    return out
