"""Reward terms as small pure functions; gains and weights come from ``SimConfig.reward``.

Tracking terms return ``exp(-gain · error²)`` in (0, 1]; penalties return the raw cost, which the
caller multiplies by ``-weight``.
"""

from __future__ import annotations

import math

import numpy as np

from teacher.config import RewardConfig


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
