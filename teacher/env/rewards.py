"""Reward terms as small pure functions; gains and weights come from ``SimConfig.reward``.

Tracking terms return ``exp(-gain · error²)`` in (0, 1]; penalties return the raw cost, which the
caller multiplies by ``-weight``.
"""

from __future__ import annotations

import math

import numpy as np

from teacher.config import RewardConfig, RootSupportConfig


def tracking(error_sq: float, gain: float) -> float:
    return math.exp(-gain * error_sq)


def joint_position_error(angles: np.ndarray, reference: np.ndarray) -> float:
    return float(np.sum((angles - reference) ** 2))


def root_error(com_forward_velocity: float, target_speed: float, pelvis_tilt: float) -> float:
    return (com_forward_velocity - target_speed) ** 2 + pelvis_tilt**2


def smoothness_cost(excitations: np.ndarray, previous: np.ndarray) -> float:
    return float(np.sum((excitations - previous) ** 2))


def exo_power_per_kg(torque_nm: np.ndarray, hip_velocity: np.ndarray, body_mass_kg: float) -> float:
    return float(np.sum(np.abs(torque_nm * hip_velocity))) / body_mass_kg


def combine(config: RewardConfig, errors: dict[str, float], costs: dict[str, float]) -> tuple[float, dict[str, float]]:
    """Weighted sum; returns the total and each weighted term (for logging)."""
    terms = {
        name: getattr(config, name).weight * tracking(err, getattr(config, name).gain) for name, err in errors.items()
    }
    terms.update({name: -getattr(config, name).weight * cost for name, cost in costs.items()})
    terms["alive"] = config.alive
    return sum(terms.values()), terms


def root_support_force(support: RootSupportConfig, root: np.ndarray, target: np.ndarray, speed: float) -> np.ndarray:
    """Spring-damper on (forward, vertical, tilt) toward ``target``, moving forward at ``speed``; × fraction."""
    position, velocity = root[:3], root[3:]
    force = np.array(
        [
            support.forward_stiffness_n_per_m * (target[0] - position[0])
            + support.forward_damping_n_s_per_m * (speed - velocity[0]),
            support.vertical_stiffness_n_per_m * (target[1] - position[1])
            - support.vertical_damping_n_s_per_m * velocity[1],
            support.tilt_stiffness_nm_per_rad * (target[2] - position[2])
            - support.tilt_damping_nm_s_per_rad * velocity[2],
        ]
    )
    return support.fraction * force
