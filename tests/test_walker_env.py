"""The Gymnasium env: checker, determinism, the device's shaping chain in the loop, exo off, impairment."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from firmware_bridge.config import load_config
from firmware_bridge.config.paths import default_config
from firmware_bridge.shaping import ShaperState, shape_step
from teacher.config import SimConfig, TrackingPriorConfig
from teacher.env import ENV_ID, HipExoWalkerEnv


@pytest.fixture(scope="module")
def sim_config() -> SimConfig:
    return load_config(default_config("sim"), SimConfig)


@pytest.fixture(scope="module")
def env_exo_on(sim_config) -> HipExoWalkerEnv:
    return HipExoWalkerEnv(dataclasses.replace(sim_config, exo_enabled=True, max_excitation={"soleus_r": 0.05}))


def test_registered_env_passes_the_gymnasium_checker():
    env = gym.make(ENV_ID).unwrapped
    check_env(env, skip_render_check=True)


def test_same_seed_same_trajectory(env_exo_on):
    actions = np.random.default_rng(0).uniform(0, 1, (20, env_exo_on.action_space.shape[0])).astype(np.float32)
    runs = []
    for _ in range(2):
        obs, _ = env_exo_on.reset(seed=123)
        trace = [obs]
        for action in actions:
            trace.append(env_exo_on.step(action)[0])
        runs.append(np.array(trace))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_exo_torque_is_the_device_shaping_chain_output(env_exo_on):
    env_exo_on.reset(seed=5, options={"speed_m_s": 1.25, "slope_deg": 0.0})
    action = np.full(env_exo_on.action_space.shape, 0.1, dtype=np.float32)
    action[-2:] = [0.8, -0.4]
    expected_state = ShaperState.initial(env_exo_on.shaping)
    for _ in range(10):
        info = env_exo_on.step(action)[4]
        for applied in info["exo_torque_nm"]:
            expected = shape_step(env_exo_on.shaping, expected_state, float(action[-2]), float(action[-1]))
            np.testing.assert_array_equal(applied, [expected.right_nm, expected.left_nm])
    assert info["exo_torque_nm"][-1][0] > 0.0 > info["exo_torque_nm"][-1][1]


def test_exo_command_is_ignored_when_the_exo_is_off(sim_config):
    env = HipExoWalkerEnv(dataclasses.replace(sim_config, exo_enabled=False))
    env.reset(seed=1)
    action = np.ones(env.action_space.shape, dtype=np.float32)
    for _ in range(5):
        info = env.step(action)[4]
        assert np.all(info["exo_torque_nm"] == 0.0)


def test_an_episode_may_wear_an_enabled_exo_at_zero_torque(env_exo_on):
    action = np.ones(env_exo_on.action_space.shape, dtype=np.float32)
    _, info = env_exo_on.reset(seed=1, options={"exo_on": False})
    assert info["exo_on"] is False
    for _ in range(3):
        info = env_exo_on.step(action)[4]
        assert np.all(info["exo_torque_nm"] == 0.0) and info["exo_on"] is False
    _, info = env_exo_on.reset(seed=1)  # the next episode wears it on again
    assert info["exo_on"] is True
    assert np.any(env_exo_on.step(action)[4]["exo_torque_nm"] != 0.0)


def test_impairment_caps_the_excitation(env_exo_on):
    env_exo_on.reset(seed=2)
    env_exo_on.step(np.ones(env_exo_on.action_space.shape, dtype=np.float32))
    soleus = env_exo_on.backend.muscle_names.index("soleus_r")
    assert env_exo_on.backend.data.ctrl[env_exo_on.backend._muscles[soleus]] == pytest.approx(0.05)


def test_falling_terminates_the_episode(env_exo_on):
    env_exo_on.reset(seed=0, options={"speed_m_s": 1.2, "phase": 0.25})  # mid-stance on an impaired soleus
    zero = np.zeros(env_exo_on.action_space.shape, dtype=np.float32)
    for _ in range(100):
        _, _, terminated, truncated, info = env_exo_on.step(zero)
        if terminated:
            break
    assert terminated and not truncated
    assert info["imu"].shape == (2, 3, 6)


def test_only_a_dropping_pelvis_is_a_fall(sim_config):
    """Ahead of or behind the target speed's path is speed error, not a fall; a pelvis that drops is."""
    env = HipExoWalkerEnv(sim_config)
    backend = env.backend
    zero = np.zeros(env.action_space.shape, dtype=np.float32)
    env.reset(seed=0, options={"speed_m_s": 1.25, "phase": 0.0})
    backend.data.qpos[backend._root_xz[0]] += 2.0
    assert not env.step(zero)[2]
    limp = HipExoWalkerEnv(dataclasses.replace(sim_config, tracking_prior=TrackingPriorConfig()))
    limp.reset(seed=0, options={"speed_m_s": 1.25, "phase": 0.0})
    start = limp.backend.body_state().root_position[1]
    drops = []
    terminated = False
    while not terminated:  # no muscle drive: the walker collapses
        terminated = limp.step(np.zeros(limp.action_space.shape, dtype=np.float32))[2]
        drops.append(start - limp.backend.body_state().root_position[1])
    assert drops[-1] > sim_config.fall_height_drop_m >= max(drops[:-1])


def test_reset_options_set_speed_and_slope(env_exo_on):
    _, info = env_exo_on.reset(seed=0, options={"speed_m_s": 0.9, "slope_deg": -5.0})
    assert (info["speed_m_s"], info["slope_deg"]) == (0.9, -5.0)
    assert env_exo_on.backend.model.opt.gravity[0] > 0.0  # downhill: gravity pulls forwards


def test_sim_check_command_prints_the_model_summary(capsys):
    from tools.cli import main

    assert main(["sim", "check", "--duration", "0.4"]) == 0
    out = capsys.readouterr().out
    assert "muscles (22)" in out and "pelvis, thigh_r, thigh_l" in out and "77.90 kg" in out


def test_root_support_holds_a_passive_walker_up_and_goes_away_on_reset(device_config, subject_config):
    from dataclasses import replace

    from teacher.config import RootSupportConfig, SimConfig, TrackingPriorConfig
    from teacher.env import HipExoWalkerEnv

    base = replace(load_config(default_config("sim"), SimConfig), tracking_prior=TrackingPriorConfig(enabled=False))

    supported = replace(base, root_support=RootSupportConfig(fraction=1.0))
    outcomes = {}
    for name, config in (("free", base), ("supported", supported)):
        env = HipExoWalkerEnv(config, device_config, subject_config)
        env.reset(seed=3, options={"speed_m_s": 1.2, "phase": 0.1})
        survived = 0
        while survived < 100:  # 2 s of limp muscles
            _, _, terminated, _, _ = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
            survived += 1
            if terminated:
                break
        outcomes[name] = survived
        if name == "supported":
            assert np.any(env.backend.data.qfrc_applied != 0.0)
            env.set_sim_config(base)
            env.reset(seed=3)
            assert np.all(env.backend.data.qfrc_applied == 0.0)
    assert outcomes["free"] < 50 and outcomes["supported"] == 100


def test_sim_render_writes_a_png_strip(tmp_path, capsys):
    from tools.cli import main

    out = tmp_path / "strip.png"
    assert main(["sim", "render", "--duration", "0.3", "--frames", "4", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "control steps" in capsys.readouterr().out


def test_episodes_start_at_the_configured_phases(sim_config):
    env = HipExoWalkerEnv(dataclasses.replace(sim_config, start_phases=[0.0, 0.5], start_phase_jitter=0.02))
    phases = np.array([env.reset(seed=seed)[1]["phase"] for seed in range(24)])
    nearest = np.array([0.0, 0.5, 1.0])[np.abs(phases[:, None] - [0.0, 0.5, 1.0]).argmin(axis=1)]
    assert np.all(np.abs(phases - nearest) <= 0.02)
    assert {0.0, 0.5} == {n % 1.0 for n in nearest}
    problems = dataclasses.replace(sim_config, start_phases=[0.25, 1.0]).validate()
    assert any(p.startswith("start_phases:") and "[0.25, 1.0]" in p for p in problems)


def test_seeds_change_the_episode_whatever_the_options(sim_config):
    """Evaluation pairs exo on/off by seed and averages over seeds: each seed must give its own episode, and the
    same seed the same episode."""
    env = HipExoWalkerEnv(sim_config)
    options = {"speed_m_s": 1.25, "slope_deg": 0.0, "phase": 0.0}
    zero = np.zeros(env.action_space.shape, dtype=np.float32)

    def episode(seed: int) -> np.ndarray:
        obs, info = env.reset(seed=seed, options=options)
        assert abs((info["phase"] + 0.5) % 1.0 - 0.5) <= sim_config.start_phase_jitter
        return np.array([obs] + [env.step(zero)[0] for _ in range(25)])

    first, again, other = episode(1000), episode(1000), episode(1001)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3
