"""PPO's local env workers: groups of envs in a few processes behave exactly as SB3's SubprocVecEnv, and a
worker that dies is reported by name instead of hanging the learner."""

from __future__ import annotations

import dataclasses
import os
import signal

import numpy as np
import pytest
from stable_baselines3.common.vec_env import SubprocVecEnv

from firmware_bridge.config import load_config
from firmware_bridge.config.paths import CONFIG_DIR
from teacher.config import SimConfig
from teacher.training.grouped_vec_env import GroupedVecEnv
from teacher.training.train import make_env


@pytest.fixture(scope="module")
def short_sim() -> SimConfig:
    sim = load_config(CONFIG_DIR / "sim" / "default.yaml", SimConfig)
    return dataclasses.replace(sim, episode_s=0.2)  # 10 control steps: 20 steps pass through auto-resets


def test_groups_step_exactly_as_subprocess_envs(short_sim):
    grouped = GroupedVecEnv([make_env(short_sim) for _ in range(5)], groups=2)  # uneven: 3 + 2 envs
    reference = SubprocVecEnv([make_env(short_sim) for _ in range(5)], start_method="forkserver")
    try:
        assert [s.stop - s.start for s in grouped._slices] == [3, 2]
        for venv in (grouped, reference):
            venv.seed(11)
        np.testing.assert_array_equal(grouped.reset(), reference.reset())
        actions = np.random.default_rng(0).uniform(-1, 1, (20, 5, *grouped.action_space.shape)).astype(np.float32)
        dones = 0
        for action in actions:
            (obs, reward, done, info), (obs_r, reward_r, done_r, info_r) = grouped.step(action), reference.step(action)
            np.testing.assert_array_equal(obs, obs_r)
            np.testing.assert_array_equal(done, done_r)
            np.testing.assert_allclose(reward, reward_r, rtol=1e-6)  # DummyVecEnv keeps rewards as float32
            for i in np.flatnonzero(done):
                np.testing.assert_array_equal(info[i]["terminal_observation"], info_r[i]["terminal_observation"])
                assert info[i]["TimeLimit.truncated"] == info_r[i]["TimeLimit.truncated"]
            dones += int(done.sum())
        assert dones >= 5
        # env calls reach the one env they name, in the order asked
        assert grouped.env_method("set_sim_config", short_sim, indices=[4, 0]) == [None, None]
        speeds = [float(s) for s in grouped.get_attr("speed")]
        assert speeds == [float(s) for s in reference.get_attr("speed")]
    finally:
        grouped.close()
        reference.close()


def test_a_dead_worker_is_an_error_naming_it(short_sim):
    grouped = GroupedVecEnv([make_env(short_sim) for _ in range(2)], groups=2)
    try:
        grouped.reset()
        os.kill(grouped._workers._processes[1].pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="env worker 1 died"):
            grouped.step(np.zeros((2, *grouped.action_space.shape), dtype=np.float32))
    finally:
        grouped._pending = []
        grouped.close()
