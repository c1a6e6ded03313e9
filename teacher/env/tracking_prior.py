"""The muscle-space tracking prior (``SimConfig.tracking_prior``): PD joint torques → excitations.

A pure function of the state, so the policy only has to learn a residual on top of a controller that
already steps along the reference gait.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear

from teacher.config import TrackingPriorConfig


def desired_torques(
    config: TrackingPriorConfig,
    angles: np.ndarray,
    velocities: np.ndarray,
    reference_angles: np.ndarray,
    reference_velocities: np.ndarray,
) -> np.ndarray:
    """PD law per joint toward the reference, in N·m."""
    return config.kp_nm_per_rad * (reference_angles - angles) + config.kd_nm_s_per_rad * (
        reference_velocities - velocities
    )


def excitations_for(config: TrackingPriorConfig, torque_map: np.ndarray, torques: np.ndarray) -> np.ndarray:
    """Excitations in [0, 1] minimising ``|torque_map · e − torques|² + regularisation · |e|²``."""
    n = torque_map.shape[1]
    system = np.vstack([torque_map, np.sqrt(config.regularisation) * np.eye(n)])
    target = np.r_[torques, np.zeros(n)]
    solution = lsq_linear(system, target, bounds=(0.0, 1.0), method="bvls").x
    return np.clip(solution, 0.0, 1.0)  # the solver may overstep a bound by rounding (~1e-18)
