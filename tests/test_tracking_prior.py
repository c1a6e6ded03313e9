"""The muscle-space tracking prior: bounded excitations that realise the PD torques, and a walker that
steps along the reference with a zero residual."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import lsq_linear

from firmware_bridge.config import load_config
from firmware_bridge.config.paths import default_config
from teacher.config import (
    SLOPE_TERMS,
    BalanceConfig,
    JointGains,
    SimConfig,
    SlopeSetting,
    TrackingPriorConfig,
    slope_terms,
)
from teacher.env import HipExoWalkerEnv
from teacher.env.tracking_prior import MuscleAllocator, desired_torques, pd_torques, stance_weights
from teacher.sim.backend import BodyState


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_excitations_stay_in_bounds_and_realise_a_reachable_torque(seed):
    rng = np.random.default_rng(seed)
    torque_map = rng.normal(0.0, 50.0, (6, 22))
    wanted = rng.uniform(0.0, 1.0, 22)
    excitations = MuscleAllocator(22, regularisation=1e-6).solve(torque_map, torque_map @ wanted)
    assert np.all((excitations >= 0.0) & (excitations <= 1.0))
    np.testing.assert_allclose(torque_map @ excitations, torque_map @ wanted, atol=1e-3)


def test_an_early_stop_of_the_compiled_solver_is_caught_and_solved_exactly():
    """Measured: on this badly conditioned map ``mju_boxQP`` stops with 1e-3 of the cost still to go."""
    rng = np.random.default_rng(4456)
    torque_map = rng.normal(0.0, 50.0, (6, 22))
    torques = torque_map @ rng.uniform(0.0, 1.0, 22)
    allocator = MuscleAllocator(22, regularisation=1.0)
    excitations = allocator.solve(torque_map, torques)
    assert allocator.fallbacks == 1
    system = np.vstack([torque_map, np.eye(22)])
    exact = lsq_linear(system, np.r_[torques, np.zeros(22)], bounds=(0.0, 1.0), method="bvls").x
    np.testing.assert_allclose(excitations, exact, atol=1e-9)


def test_regularisation_trades_torque_for_smaller_excitations():
    torque_map = np.tile(np.array([[40.0, -40.0]]), (1, 1))
    loose = MuscleAllocator(2, regularisation=1e-6).solve(torque_map, np.array([20.0]))
    tight = MuscleAllocator(2, regularisation=1e4).solve(torque_map, np.array([20.0]))
    assert loose[0] == pytest.approx(0.5, abs=1e-3) and loose[1] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < tight[0] < loose[0]


def test_pd_law_pulls_toward_the_reference():
    config = TrackingPriorConfig(kp_nm_per_rad=JointGains(100.0, 0.0, 0.0), kd_nm_s_per_rad=JointGains(10.0, 0.0, 0.0))
    torque = pd_torques(config, np.full(6, 0.1), np.full(6, 1.0), np.full(6, 0.3), np.zeros(6))
    assert torque == pytest.approx([100.0 * 0.2 - 10.0 * 1.0, 0.0, 0.0] * 2)


def _body(tilt: float = 0.0, tilt_rate: float = 0.0, loads=(1.0, 0.0, 0.0, 0.0), com_x: float = 0.0) -> BodyState:
    return BodyState(
        time_s=0.0,
        joint_angles=np.r_[tilt, np.zeros(6)],
        joint_velocities=np.r_[tilt_rate, np.zeros(6)],
        root_position=np.array([0.0, 0.9]),
        root_velocity=np.zeros(2),
        com_position=np.array([com_x, 0.9]),
        com_velocity=np.array([1.25, 0.0]),
        foot_positions=np.array([[0.0, -0.9], [-0.3, -0.9]]),
        foot_velocities=np.zeros((2, 2)),
        contact_forces=np.array(loads, dtype=float),
        joint_moments_nm=np.zeros(6),
    )


BALANCED = TrackingPriorConfig(
    kp_nm_per_rad=JointGains(500.0, 300.0, 300.0),
    kd_nm_s_per_rad=JointGains(30.0, 10.0, 5.0),
    balance=BalanceConfig(
        enabled=True,
        trunk_kp_nm_per_rad=400.0,
        trunk_kd_nm_s_per_rad=100.0,
        swing_world_frame=1.0,
        placement_position_rad_per_m=0.5,
    ),
)


def _torques(config: TrackingPriorConfig, body: BodyState) -> np.ndarray:
    return desired_torques(config, body, np.zeros(6), np.zeros(6), 1.25, body_weight_n=1.0)


def test_stance_hip_extends_to_lift_a_pelvis_pitched_forward():
    upright, pitched = _torques(BALANCED, _body()), _torques(BALANCED, _body(tilt=-0.2))
    # right leg in stance: extension (negative) torque rotates the pelvis back; its change is kp × tilt
    assert pitched[0] - upright[0] == pytest.approx(400.0 * -0.2 + 500.0 * -0.2)  # trunk term + swing hip's world term
    assert pitched[0] < upright[0]
    # without balance, the clock-driven stance hip ignores the pitch
    plain = TrackingPriorConfig(kp_nm_per_rad=BALANCED.kp_nm_per_rad, kd_nm_s_per_rad=BALANCED.kd_nm_s_per_rad)
    assert _torques(plain, _body(tilt=-0.2))[0] == _torques(plain, _body())[0]


def test_upright_on_a_slope_means_along_gravity():
    """Uphill by 0.2 rad, a pelvis square to the ground leans back from gravity's vertical by 0.2 rad: the
    prior answers exactly as to a pelvis pitched back on level ground, and a pelvis leaning forward by the
    slope angle is upright."""
    square = desired_torques(BALANCED, _body(), np.zeros(6), np.zeros(6), 1.25, 1.0, slope_deg=np.rad2deg(0.2))
    np.testing.assert_allclose(square, _torques(BALANCED, _body(tilt=0.2)))
    leaning = desired_torques(BALANCED, _body(tilt=-0.2), np.zeros(6), np.zeros(6), 1.25, 1.0, np.rad2deg(0.2))
    np.testing.assert_allclose(leaning, _torques(BALANCED, _body()), atol=1e-9)


def test_swing_hip_tracks_in_the_world_frame_and_steps_toward_a_falling_centre_of_mass():
    # left leg in swing: with the pelvis pitched forward by 0.2 rad, its hip target flexes by 0.2 more
    pitched = _torques(BALANCED, _body(tilt=-0.2))
    assert pitched[3] == pytest.approx(500.0 * 0.2)
    # CoM 0.1 m ahead of the stance (right) foot: the swing foot reaches further forward
    ahead = _torques(BALANCED, _body(com_x=0.1))
    assert ahead[3] == pytest.approx(500.0 * 0.5 * 0.1)


def test_stance_weights_follow_the_load_and_vanish_in_flight():
    balance = BalanceConfig(enabled=True)
    np.testing.assert_allclose(stance_weights(balance, np.array([0.3, 0.1, 0.6, 0.0])), [0.4, 0.6])
    np.testing.assert_allclose(stance_weights(balance, np.array([0.01, 0.0, 0.01, 0.0])), [0.0, 0.0])


def _survival(config: SimConfig, speed: float, phase: float, steps: int) -> int:
    env = HipExoWalkerEnv(config)
    env.reset(seed=0, options={"speed_m_s": speed, "phase": phase})
    for step in range(1, steps + 1):
        _, _, terminated, _, _ = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
        if terminated:
            return step
    return steps


def test_balanced_prior_walks_unsupported_where_plain_tracking_falls():
    walker = load_config("configs/sim/default.yaml", SimConfig)
    assert walker.root_support.fraction == 0.0 and walker.tracking_prior.balance.enabled
    plain = dataclasses.replace(
        walker, tracking_prior=dataclasses.replace(walker.tracking_prior, balance=BalanceConfig(enabled=False))
    )
    assert _survival(walker, 1.0, 0.0, 250) == 250  # 5 s unsupported on the prior alone
    assert _survival(plain, 1.0, 0.0, 250) < 150  # the same gains without balance fall within 3 s (measured 2.2 s)


UPHILL = SlopeSetting(
    slope_deg=5.0,
    trunk_lean_rad=0.2,
    hip_flexion_rad=0.1,
    knee_flexion_rad=0.2,
    ankle_dorsiflexion_rad=0.05,
    stance_knee_extension_nm_per_kg=0.4,
    stance_ankle_plantarflexion_nm_per_kg=0.6,
    propulsion_nm_per_kg_per_m_s=1.0,
)
DOWNHILL = SlopeSetting(slope_deg=-10.0, knee_flexion_rad=0.3)


def test_slope_settings_interpolate_from_level_and_hold_beyond_the_outermost():
    settings = (UPHILL, DOWNHILL)
    np.testing.assert_array_equal(slope_terms(settings, 0.0), np.zeros(len(SLOPE_TERMS)))
    half = dict(zip(SLOPE_TERMS, slope_terms(settings, 2.5), strict=True))
    assert half["trunk_lean_rad"] == pytest.approx(0.1) and half["propulsion_nm_per_kg_per_m_s"] == pytest.approx(0.5)
    assert dict(zip(SLOPE_TERMS, slope_terms(settings, 9.0), strict=True))["hip_flexion_rad"] == pytest.approx(0.1)
    assert dict(zip(SLOPE_TERMS, slope_terms(settings, -5.0), strict=True))["knee_flexion_rad"] == pytest.approx(0.15)


def test_a_slope_setting_leans_the_held_pelvis_and_pushes_off_in_stance():
    """At +5° with the setting, a pelvis leaning forward by slope + lean is held as an upright one is on level
    ground; the stance (right) leg gets the knee extension and the push-off, grown by the speed deficit; the
    swing (left) leg none."""
    prior = dataclasses.replace(BALANCED, slopes=[UPHILL])
    lean = np.deg2rad(5.0) + 0.2
    slow = dataclasses.replace(_body(tilt=-lean), com_velocity=np.array([1.05, 0.0]))
    torques = desired_torques(prior, slow, np.zeros(6), np.zeros(6), 1.25, body_weight_n=9.81, slope_deg=5.0)
    level = _torques(BALANCED, dataclasses.replace(_body(), com_velocity=np.array([1.05, 0.0])))
    np.testing.assert_allclose(torques[[0, 3]], level[[0, 3]], atol=1e-9)  # hips: balance as on level ground
    assert torques[1] - level[1] == pytest.approx(0.4)  # knee extension, N·m per kg × 1 kg
    assert torques[2] - level[2] == pytest.approx(-(0.6 + 1.0 * 0.2))  # plantarflexion is negative
    np.testing.assert_allclose(torques[4:6], level[4:6], atol=1e-12)


def test_the_env_tracks_the_slope_adjusted_gait_and_rewards_the_held_lean():
    sim_config_default = load_config(default_config("sim"), SimConfig)
    sim = dataclasses.replace(
        sim_config_default, tracking_prior=dataclasses.replace(sim_config_default.tracking_prior, slopes=[UPHILL])
    )
    level, sloped = HipExoWalkerEnv(sim_config_default), HipExoWalkerEnv(sim)
    for env, slope in ((level, 5.0), (sloped, 5.0)):
        env.reset(seed=3, options={"speed_m_s": 1.25, "slope_deg": slope, "phase": 0.0})
    offsets = np.array([0.1, -0.2, 0.05] * 2)  # the model's knee angle is negative in flexion
    np.testing.assert_allclose(sloped._reference[0], level._reference[0] + offsets)
    # the root term's tilt is measured from the held lean, not from the floor's normal
    body = sloped._body
    assert sloped._pelvis_lean_error(body) == pytest.approx(body.joint_angles[0] + np.deg2rad(5.0) + 0.2)
    level.reset(seed=3, options={"speed_m_s": 1.25, "slope_deg": 0.0, "phase": 0.0})
    assert level._pelvis_lean_error(level._body) == pytest.approx(level._body.joint_angles[0])


def test_early_stance_lifts_with_the_knee_and_late_stance_pushes_with_the_ankle():
    """With both feet loaded, the foot ahead of the centre of mass (early stance) gets the knee term and the
    foot behind it (late stance) the push-off, each in full once the centre of mass is STANCE_SPLIT_M away."""
    from teacher.env.tracking_prior import STANCE_SPLIT_M

    setting = SlopeSetting(slope_deg=5.0, early_stance_knee_extension_nm_per_kg=0.5, late_stance_push_off_nm_per_kg=0.8)
    prior = dataclasses.replace(BALANCED, slopes=[setting])
    body = dataclasses.replace(
        _body(tilt=-np.deg2rad(5.0), loads=(0.5, 0.0, 0.0, 0.5)),
        foot_positions=np.array([[STANCE_SPLIT_M, -0.9], [-2 * STANCE_SPLIT_M, -0.9]]),  # right ahead, left behind
        com_velocity=np.array([1.25, 0.0]),
    )
    level_body = dataclasses.replace(body, joint_angles=np.zeros(7))
    torques = desired_torques(prior, body, np.zeros(6), np.zeros(6), 1.25, body_weight_n=9.81, slope_deg=5.0)
    level = desired_torques(BALANCED, level_body, np.zeros(6), np.zeros(6), 1.25, body_weight_n=9.81)
    extra = torques - level
    assert extra[1] == pytest.approx(0.5 * 0.5) and extra[2] == pytest.approx(0.0)  # right: knee, half the load
    assert extra[4] == pytest.approx(0.0) and extra[5] == pytest.approx(-0.5 * 0.8)  # left: push-off
