"""The muscle-space tracking prior: bounded excitations that realise the PD torques, and a walker that
steps along the reference with a zero residual."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.config import load_config
from teacher.config import SimConfig, TrackingPriorConfig
from teacher.env import HipExoWalkerEnv
from teacher.env.tracking_prior import desired_torques, excitations_for


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_excitations_stay_in_bounds_and_realise_a_reachable_torque(seed):
    rng = np.random.default_rng(seed)
    torque_map = rng.normal(0.0, 50.0, (6, 22))
    wanted = rng.uniform(0.0, 1.0, 22)
    config = TrackingPriorConfig(enabled=True, regularisation=1e-6)
    excitations = excitations_for(config, torque_map, torque_map @ wanted)
    assert np.all((excitations >= 0.0) & (excitations <= 1.0))
    np.testing.assert_allclose(torque_map @ excitations, torque_map @ wanted, atol=1e-3)


def test_regularisation_trades_torque_for_smaller_excitations():
    torque_map = np.tile(np.array([[40.0, -40.0]]), (1, 1))
    loose = excitations_for(TrackingPriorConfig(regularisation=1e-6), torque_map, np.array([20.0]))
    tight = excitations_for(TrackingPriorConfig(regularisation=1e4), torque_map, np.array([20.0]))
    assert loose[0] == pytest.approx(0.5, abs=1e-3) and loose[1] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < tight[0] < loose[0]


def test_pd_law_pulls_toward_the_reference():
    config = TrackingPriorConfig(kp_nm_per_rad=100.0, kd_nm_s_per_rad=10.0)
    torque = desired_torques(config, np.array([0.1]), np.array([1.0]), np.array([0.3]), np.array([0.0]))
    assert torque == pytest.approx([100.0 * 0.2 - 10.0 * 1.0])


def _mean_tracking(config: SimConfig, steps: int = 100) -> float:
    env = HipExoWalkerEnv(config)
    env.reset(seed=0, options={"speed_m_s": 1.25, "phase": 0.0})
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    if not config.tracking_prior.enabled:
        action[:-2] = 0.05  # a quiet, untrained walker
    tracking = []
    for _ in range(steps):
        *_, info = env.step(action)
        tracking.append(info["joint_tracking"])
    return float(np.mean(tracking))


def test_supported_walker_tracks_the_reference_on_the_prior_alone():
    supported = load_config("configs/sim/supported.yaml", SimConfig)
    assert supported.tracking_prior.enabled
    with_prior = _mean_tracking(supported)
    without = _mean_tracking(dataclasses.replace(supported, tracking_prior=TrackingPriorConfig(enabled=False)))
    assert with_prior > 0.5 > without
