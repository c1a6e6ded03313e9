"""One check for every ``VecEnv`` PPO may use: step for step the same as SB3's ``SubprocVecEnv``."""

from __future__ import annotations

import dataclasses

import numpy as np
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv

from firmware_bridge.config import load_config
from firmware_bridge.config.paths import CONFIG_DIR
from teacher.config import SimConfig
from teacher.training.train import make_env


def short_episodes() -> SimConfig:
    """The default walker with 0.2 s episodes (10 control steps): 20 steps pass through auto-resets."""
    return dataclasses.replace(load_config(CONFIG_DIR / "sim" / "default.yaml", SimConfig), episode_s=0.2)


def assert_steps_like_subprocess_envs(venv: VecEnv, sim: SimConfig, steps: int = 20) -> None:
    """Same seeds, same actions: the same observations, dones, rewards and terminal observations as
    ``SubprocVecEnv`` over ``venv.num_envs`` envs of ``sim``, through at least one auto-reset per env."""
    reference = SubprocVecEnv([make_env(sim) for _ in range(venv.num_envs)], start_method="forkserver")
    try:
        for v in (venv, reference):
            v.seed(11)
        np.testing.assert_array_equal(venv.reset(), reference.reset())
        shape = (steps, venv.num_envs, *venv.action_space.shape)
        dones = 0
        for action in np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32):
            (obs, reward, done, info), (obs_r, reward_r, done_r, info_r) = venv.step(action), reference.step(action)
            np.testing.assert_array_equal(obs, obs_r)
            np.testing.assert_array_equal(done, done_r)
            np.testing.assert_allclose(reward, reward_r, rtol=1e-6)  # DummyVecEnv keeps rewards as float32
            for i in np.flatnonzero(done):
                np.testing.assert_array_equal(info[i]["terminal_observation"], info_r[i]["terminal_observation"])
                assert info[i]["TimeLimit.truncated"] == info_r[i]["TimeLimit.truncated"]
            dones += int(done.sum())
        assert dones >= venv.num_envs
    finally:
        reference.close()
