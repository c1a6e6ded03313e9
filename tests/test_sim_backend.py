"""The MuJoCo backend: slope gravity, device and body masses, IMU kinematics, exo torque sign."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from teacher.sim.backend import JOINTS
from teacher.sim.model import _device_bodies_by_segment
from teacher.sim.mujoco_backend import MujocoBackend
from teacher.sim.muscle_curves import force_length, force_velocity


@pytest.fixture(scope="module")
def backend(device_config, subject_config) -> MujocoBackend:
    return MujocoBackend(device_config, subject_config)


@pytest.mark.parametrize("slope_deg", [-10.0, 0.0, 5.0, 10.0])
def test_standing_model_on_a_slope_feels_the_tilted_gravity(backend, slope_deg):
    backend.set_slope(slope_deg)
    backend.reset()
    m, d = backend.model, backend.data
    d.qacc[:] = 0.0
    mujoco.mj_inverse(m, d)  # sensors for a body held still
    pelvis_site = m.site("imu_pelvis").id
    specific_force_world = d.site_xmat[pelvis_site].reshape(3, 3) @ backend.imu()[0, 3:]
    theta = math.radians(slope_deg)
    g = backend.gravity_m_s2
    # uphill: gravity pulls backwards, so a still sensor feels +g·sin(theta) forwards
    np.testing.assert_allclose(specific_force_world, [g * math.sin(theta), 0.0, g * math.cos(theta)], atol=1e-9)
    backend.set_slope(0.0)


def test_device_and_body_masses_follow_the_configs(backend, device_config, subject_config):
    m = backend.model
    groups = _device_bodies_by_segment(m)
    for segment, bodies in groups.items():
        assert sum(m.body_mass[b] for b in bodies) == pytest.approx(device_config.segment_masses_kg[segment])
    device_total = sum(device_config.segment_masses_kg.values())
    assert backend.body_mass_kg == pytest.approx(subject_config.body_mass_kg + device_total)


def test_reset_puts_the_lowest_foot_point_on_the_ground(backend):
    angles = np.array([0.0, 0.4, -0.2, 0.0, -0.15, -0.1, 0.1])
    backend.reset(angles)
    assert backend._lowest_foot_point() == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(backend.body_state().joint_angles, angles)


def test_thigh_gyro_matches_finite_difference_of_hip_angle_plus_pelvis_tilt(backend):
    backend.reset(forward_speed_m_s=0.0)
    rng = np.random.default_rng(3)
    gyro, angle = [], []
    for k in range(400):
        if k % 50 == 0:
            excitations = rng.uniform(0.0, 0.6, len(backend.muscle_names))
        backend.step(excitations, np.zeros(2), substeps=1)
        state = backend.body_state()
        gyro.append(backend.imu()[1:, 2])  # thigh_r, thigh_l gyro_z: the sagittal axis
        angle.append(state.joint_angles[[1, 4]] + state.joint_angles[0])
    gyro, angle = np.array(gyro), np.array(angle)
    rate = np.gradient(angle, backend.physics_dt_s, axis=0)
    # MuJoCo evaluates sensors at the start of a physics step: reading k belongs to state k - 1.
    for side in range(2):
        error = rate[2:-3, side] - gyro[3:-2, side]
        scale = np.sqrt(np.mean(gyro[:, side] ** 2))
        assert scale > 0.3  # the legs really moved
        assert np.sqrt(np.mean(error**2)) < 0.05 * scale


def test_positive_exo_torque_acts_in_hip_flexion(backend):
    zero = np.zeros(len(backend.muscle_names))
    backend.reset()
    backend.step(zero, np.array([0.0, 0.0]))
    baseline = backend.data.qfrc_actuator[backend._hip_dofs].copy()
    backend.reset()
    backend.step(zero, np.array([20.0, -7.5]))
    np.testing.assert_allclose(backend.data.qfrc_actuator[backend._hip_dofs] - baseline, [20.0, -7.5], atol=1e-9)


def test_joint_order_and_muscle_names(backend):
    assert JOINTS[1:4] == ("hip_r", "knee_r", "ankle_r")
    assert len(backend.muscle_names) == 22 and backend.muscle_names[0].endswith("_r")
    assert backend.imu().shape == (3, 6)


def test_vectorised_muscle_curves_match_mujoco(backend):
    """The numpy force-length/velocity curves equal mju_muscleGain for every muscle across its range."""
    m = backend.model
    rng = np.random.default_rng(3)
    for k, i in enumerate(backend._muscles):
        prm, lr, acc0 = m.actuator_gainprm[i, :9], m.actuator_lengthrange[i], m.actuator_acc0[i]
        l_opt, offset = backend._optimal_length[k], backend._length_offset[k]
        length_norm = rng.uniform(-0.2, 2.2, 400)
        velocity_norm = rng.uniform(-1.3, 1.3, 400)  # in units of vmax
        lengths, velocities = offset + length_norm * l_opt, velocity_norm * prm[6] * l_opt
        expected = np.array(
            [-mujoco.mju_muscleGain(x, v, lr, acc0, prm) for x, v in zip(lengths, velocities, strict=True)]
        )
        fl = force_length(length_norm, np.full(400, backend._lmin[k]), np.full(400, backend._lmax[k]))
        fv = force_velocity(velocity_norm, np.full(400, backend._fvmax[k]))
        np.testing.assert_allclose(prm[2] * fl * fv, expected, rtol=1e-9, atol=1e-9)


def test_muscle_state_active_force_is_gain_times_activation(backend):
    backend.reset()
    zero = np.zeros(2)
    backend.step(np.full(len(backend.muscle_names), 0.7), zero, substeps=20)
    state = backend.muscle_state()
    m, d = backend.model, backend.data
    for k, i in enumerate(backend._muscles):
        gain = -mujoco.mju_muscleGain(
            d.actuator_length[i],
            d.actuator_velocity[i],
            m.actuator_lengthrange[i],
            m.actuator_acc0[i],
            m.actuator_gainprm[i, :9],
        )
        assert state.active_force_n[k] == pytest.approx(gain * d.act[m.actuator_actadr[i]], rel=1e-9, abs=1e-9)
    assert state.activation.min() > 0.3


def test_stripped_simulation_model_moves_like_the_full_one(device_config, subject_config):
    """Dropping the look-only meshes keeps masses and inertias (to 2e-6) and the motion (to 1e-6 over 0.5 s)."""
    from teacher.sim.model import build_model

    full, _ = build_model(device_config, subject_config, 0.002, visual_meshes=True)
    lean, _ = build_model(device_config, subject_config, 0.002)
    assert lean.nmeshvert < full.nmeshvert / 20
    np.testing.assert_allclose(lean.body_mass, full.body_mass, rtol=1e-6)
    np.testing.assert_allclose(lean.body_inertia, full.body_inertia, rtol=5e-6, atol=1e-12)
    data_full, data_lean = mujoco.MjData(full), mujoco.MjData(lean)
    for model, data in ((full, data_full), (lean, data_lean)):
        mujoco.mj_resetDataKeyframe(model, data, 0)
    for _ in range(250):
        data_full.ctrl[:] = data_lean.ctrl[:] = 0.3
        mujoco.mj_step(full, data_full)
        mujoco.mj_step(lean, data_lean)
    np.testing.assert_allclose(data_lean.qpos, data_full.qpos, atol=1e-6)
