"""PPO's local env workers: groups of envs in a few processes behave exactly as SB3's SubprocVecEnv, and a
worker that dies is reported by name instead of hanging the learner."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from vec_env_check import assert_steps_like_subprocess_envs, short_episodes

from teacher.config import SimConfig
from teacher.training.grouped_vec_env import GroupedVecEnv
from teacher.training.train import make_env


@pytest.fixture(scope="module")
def short_sim() -> SimConfig:
    return short_episodes()


def test_groups_step_exactly_as_subprocess_envs(short_sim):
    grouped = GroupedVecEnv([make_env(short_sim) for _ in range(5)], groups=2)  # uneven: 3 + 2 envs
    try:
        assert [s.stop - s.start for s in grouped._slices] == [3, 2]
        assert_steps_like_subprocess_envs(grouped, short_sim)
        # env calls reach the one env they name, in the order asked
        assert grouped.env_method("set_sim_config", short_sim, indices=[4, 0]) == [None, None]
        speeds = grouped.env_method("get_wrapper_attr", "speed")
        assert len(speeds) == 5 and grouped.env_method("get_wrapper_attr", "speed", indices=[2]) == [speeds[2]]
    finally:
        grouped.close()


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
