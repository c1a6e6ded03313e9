"""Quiet standing: what the metabolic probe reads for a person holding still (people: ~1.2-1.5 W/kg).

The walker is reset to the model's standing pose and held there by the tracking prior (its PD law toward that
pose at zero velocity), muscles allocated as in walking, exo off. The prior cannot balance a standing body (its
balance law is made for stepping: without help it falls within 5 s at any gain), so the pelvis gets the
training's helping hand (``RootSupportConfig``: springs on forward position and tilt, and on height, which
carries weight only once the pelvis sinks): a person standing with a hand on a rail. ``legs_carry`` reports
the share of body weight the legs bore, so a result where the hand carried the body shows itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from teacher.config import RootSupportConfig, SimConfig
from teacher.env import rewards, tracking_prior
from teacher.sim.metabolics import metabolic_rate


@dataclass(frozen=True)
class StandingResult:
    metabolic_w_per_kg: float
    """Probe, mean after the first second (the pose settles)."""
    mean_activation: float
    legs_carry: float
    """Share of body weight the legs carried (1 − the support's mean vertical force / weight)."""


def quiet_standing(sim_config: SimConfig, seconds: float = 5.0) -> StandingResult:
    from teacher.env import HipExoWalkerEnv

    env = HipExoWalkerEnv(dataclasses.replace(sim_config, exo_enabled=False, root_support=RootSupportConfig()))
    backend = env.backend
    backend.set_slope(0.0)
    backend.reset()
    body = backend.body_state()
    pose, still = body.joint_angles[1:].copy(), np.zeros(6)
    support = RootSupportConfig(fraction=1.0)
    target = backend.root_coordinates()[:3].copy()
    substeps = sim_config.substeps_per_device_period * sim_config.device_periods_per_control_step
    weight = backend.body_mass_kg * 9.81
    metabolic, activation, lift = [], [], []
    for step in range(round(seconds * sim_config.control_rate_hz)):
        muscles = backend.muscle_state()
        torques = tracking_prior.desired_torques(sim_config.tracking_prior, body, pose, still, 0.0, weight)
        excitations = env._allocator.solve(backend.muscle_torque_map(muscles), torques)
        force = rewards.root_support_force(support, backend.root_coordinates(), target, 0.0)
        backend.set_root_force(force)
        backend.step(excitations, np.zeros(2), substeps)
        body, muscles = backend.body_state(), backend.muscle_state()
        if step >= sim_config.control_rate_hz:
            metabolic.append(metabolic_rate(env.metabolic, muscles).total_w / backend.body_mass_kg)
            activation.append(float(muscles.activation.mean()))
            lift.append(max(force[1], 0.0) / weight)
    return StandingResult(float(np.mean(metabolic)), float(np.mean(activation)), 1.0 - float(np.mean(lift)))
