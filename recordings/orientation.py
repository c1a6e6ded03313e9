"""Angular velocity from an orientation-only export: what a gyroscope would have read, from successive attitudes.

Orientations are sensor-to-global rotations ``R_GS`` (columns: the sensor axes in global coordinates; Xsens's
``Mat[r][c]`` and ``Quat_q0..q3`` both mean this). Between two samples the sensor turned by
``R_GS(t1)^T R_GS(t2)`` in its own frame; its rotation vector over the time between is the angular velocity.
"""

from __future__ import annotations

import numpy as np


def quaternion_matrices(q: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation matrices of (T, 4) unit quaternions (q0 real, then q1 q2 q3), normalised first."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=1,
    )


def rotation_vectors(r: np.ndarray) -> np.ndarray:
    """(T, 3) axis × angle (rad) of (T, 3, 3) rotation matrices (the matrix logarithm)."""
    skew = np.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], axis=-1) / 2.0
    cos = np.clip((np.trace(r, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)
    sin = np.sin(angle)
    scale = np.where(sin > 1e-9, angle / np.where(sin > 1e-9, sin, 1.0), 1.0)
    return skew * scale[:, None]


def angular_velocity(time_s: np.ndarray, r_gs: np.ndarray) -> np.ndarray:
    """(T, 3) sensor-frame angular velocity (rad/s) from (T, 3, 3) sensor-to-global orientations.

    Central differences (the rotation from the previous to the next sample over their time apart), so the
    result has no half-sample lag; one-sided at the two ends.
    """
    before = np.concatenate([[0], np.arange(len(time_s) - 1)])
    after = np.concatenate([np.arange(1, len(time_s)), [len(time_s) - 1]])
    turn = np.einsum("tji,tjk->tik", r_gs[before], r_gs[after])  # R(before)^T R(after): the turn in the sensor frame
    return rotation_vectors(turn) / (time_s[after] - time_s[before])[:, None]
