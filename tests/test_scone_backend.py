"""The SCONE adapter against sconepy's documented contract (double), and against the real sconepy if present."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import sconepy_double

from teacher.env import HipExoWalkerEnv
from teacher.sim.backend import JOINTS
from teacher.sim.scone_backend import SconeBackend, scenario_file
from teacher.sim.scone_scenarios import write_slope_scenarios
from tools.cli import main


@pytest.fixture
def scenarios(tmp_path):
    (tmp_path / "model.hfd").write_text("model {}")
    (tmp_path / "init.zml").write_text("values {}")
    write_slope_scenarios(tmp_path / "scenarios", tmp_path / "model.hfd", tmp_path / "init.zml", slopes=(-5, 0, 5))
    return tmp_path / "scenarios"


@pytest.fixture
def backend(scenarios, device_config, subject_config):
    sconepy_double.set_array_dtype_float32()  # the real module's default
    return SconeBackend(scenarios, device_config, subject_config, 0.002, sconepy=sconepy_double)


def test_scenarios_are_one_per_slope_and_name_the_model(scenarios, tmp_path):
    text = scenario_file(scenarios, 5).read_text()
    assert "ModelHyfydy" in text and str((tmp_path / "model.hfd").resolve()) in text
    assert "slopes = [ 5 5 5" in text and "{" not in text.split("ModelHyfydy", 1)[0].replace("{slope", "")


def test_adapter_switches_to_float64_and_keeps_the_interface(backend):
    assert not sconepy_double.is_array_dtype_float32()
    assert backend.muscle_names[2] == "glutmax_r" and len(backend.muscle_names) == 18
    backend.reset(np.zeros(len(JOINTS)), np.zeros(len(JOINTS)), 1.2)
    state = backend.body_state()
    assert state.joint_angles.dtype == np.float64 and state.joint_angles.shape == (7,)
    assert backend.muscle_state().activation.dtype == np.float64


def test_steps_advance_the_model_clock_absolutely_even_after_set_state(backend):
    backend.reset()
    zero = np.zeros(len(backend.muscle_names))
    for _ in range(3):
        backend.step(zero, np.zeros(2), substeps=5)
    assert backend.model.time() == pytest.approx(0.03)
    backend.model.set_state({"pelvis_tilt": 0.0})  # the real set_state resets time to zero
    backend.step(zero, np.zeros(2), substeps=5)
    assert backend.model.advance_calls[-1] == pytest.approx(0.01)


def test_reset_applies_pose_through_init_state_from_dofs(backend):
    angles = np.array([0.05, 0.3, -0.4, 0.1, -0.2, -0.1, 0.05])
    backend.reset(angles, np.zeros(len(JOINTS)), 1.3)
    state = backend.body_state()
    np.testing.assert_allclose(state.joint_angles, angles, atol=1e-12)
    assert state.root_velocity[0] == pytest.approx(1.3)
    backend.step(np.zeros(18), np.zeros(2))  # would raise if pending DOF values were never applied


def test_exo_torque_goes_to_the_hip_motors_in_side_order(backend):
    backend.reset()
    backend.step(np.full(18, 0.2), np.array([12.0, -7.0]), substeps=10)
    inputs = backend.model._inputs
    names = [a.name() for a in backend.model.actuators()]
    assert inputs[names.index("hip_motor_r")] == 12.0 and inputs[names.index("hip_motor_l")] == -7.0
    assert np.all(inputs[:18] == 0.2)
    assert backend.body_state().hip_moments_nm[0] == pytest.approx(12.0)


def test_slope_loads_its_own_scenario_and_a_missing_one_is_a_clear_error(backend):
    backend.set_slope(5.2)
    assert backend.model.path.name == "hip_exo_slope_+05.scone"
    backend.set_slope(0.0)
    first = backend.model
    backend.set_slope(5.0)
    backend.set_slope(0.0)
    assert backend.model is first, "scenarios are cached, not reloaded"
    with pytest.raises(FileNotFoundError, match=r"no SCONE scenario for \+8° slope"):
        backend.set_slope(8.0)


def test_thigh_gyro_is_the_segment_angular_velocity_in_the_sensor_frame(backend):
    backend.reset(np.zeros(7), np.array([0.5, 1.0, 0.0, 0.0, -0.5, 0.0, 0.0]))
    gyro = backend.imu()[:, :3]
    names = backend.imu_names
    assert gyro[names.index("thigh_r"), 2] == pytest.approx(1.5)
    assert gyro[names.index("thigh_l"), 2] == pytest.approx(0.0)
    assert gyro[names.index("pelvis"), 2] == pytest.approx(0.5)


def test_the_walker_env_runs_on_the_scone_backend(backend, device_config, subject_config):
    env = HipExoWalkerEnv(device_config=device_config, subject_config=subject_config, backend=backend)
    obs, _ = env.reset(seed=0)
    assert env.action_space.shape == (20,)
    obs, reward, *_ = env.step(env.action_space.sample())
    assert np.all(np.isfinite(obs)) and np.isfinite(reward)


def test_the_double_enforces_the_contract(scenarios):
    model = sconepy_double.load_model(str(scenario_file(scenarios, 0)))
    with pytest.raises(sconepy_double.SconepyContractError, match="Invalid array length"):
        model.set_actuator_inputs(np.zeros(3))
    model.set_dof_positions(np.zeros(9))
    with pytest.raises(sconepy_double.SconepyContractError, match="init_state_from_dofs"):
        model.advance_simulation_to(0.01)
    model.init_state_from_dofs()
    model.advance_simulation_to(0.05)
    with pytest.raises(sconepy_double.SconepyContractError, match="absolute time"):
        model.advance_simulation_to(0.01)
    with pytest.raises(sconepy_double.SconepyContractError, match=".scone"):
        sconepy_double.load_model(str(scenarios / "model.hfd"))


def test_scone_scenarios_command(tmp_path, capsys):
    (tmp_path / "m.hfd").write_text("")
    (tmp_path / "i.zml").write_text("")
    args = [
        "sim",
        "scone-scenarios",
        "--model-file",
        str(tmp_path / "m.hfd"),
        "--state-init-file",
        str(tmp_path / "i.zml"),
    ]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("hip_exo_slope_*.scone"))) == 21


@pytest.mark.skipif(
    importlib.util.find_spec("sconepy") is None, reason="sconepy is not importable (SCONE not installed)"
)
def test_real_sconepy_has_every_call_the_adapter_makes():
    import sconepy

    for name in ("load_model", "set_array_dtype_float64", "Vec3"):
        assert hasattr(sconepy, name)
