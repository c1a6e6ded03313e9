"""PPO's env workers as Ray actors (``hipexo teacher train --ray ADDRESS``).

Each actor holds a slice of the envs in an SB3 ``DummyVecEnv``, so auto-reset, ``terminal_observation``,
``TimeLimit.truncated`` and per-env seeding are SB3's own code, exactly as in ``SubprocVecEnv``; this class
only splits the actions, gathers the results and forwards seeds, options and env calls to the right actor.
Env ``i`` is seeded ``seed + i`` wherever it lives, so the same seeds give the same rollouts as
``SubprocVecEnv`` (rewards come back float32, DummyVecEnv's buffer, where ``SubprocVecEnv`` gives float64;
PPO's rollout buffer keeps float32 either way).

The learner (the CLI process, Ray's driver) stays where it is: every step is one round trip per actor, so
this pays off when envs are slow (muscle models) or when the driver's machine has few cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from teacher.executor import connect_ray


class _EnvGroup:
    """Inside a Ray actor: some of the envs, stepped in turn."""

    def __init__(self, env_fns: list[Callable[[], gym.Env]]) -> None:
        self.venv = DummyVecEnv(env_fns)

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        return self.venv.observation_space, self.venv.action_space

    def step(self, actions: np.ndarray) -> tuple:
        return (*self.venv.step(actions), self.venv.reset_infos)

    def reset(self) -> tuple:
        return self.venv.reset(), self.venv.reset_infos

    def call(self, method: str, *args, **kwargs) -> Any:
        return getattr(self.venv, method)(*args, **kwargs)


class RayVecEnv(VecEnv):
    """``VecEnv`` over Ray actors of ``envs_per_actor`` envs each, one CPU per actor.

    By default the envs are spread over at most one actor per CPU of the cluster: an actor that asks for a
    CPU the cluster does not have would wait for it forever.
    """

    def __init__(self, env_fns: list[Callable[[], gym.Env]], address: str, envs_per_actor: int | None = None) -> None:
        self._ray = connect_ray(address)
        cpus = max(1, int(self._ray.cluster_resources().get("CPU", 1)))
        envs_per_actor = envs_per_actor or -(-len(env_fns) // cpus)
        actor = self._ray.remote(num_cpus=1, max_restarts=0)(_EnvGroup)
        starts = range(0, len(env_fns), envs_per_actor)
        self._slices = [slice(lo, min(lo + envs_per_actor, len(env_fns))) for lo in starts]
        self._actors = [actor.remote(env_fns[s]) for s in self._slices]
        self._where = [(k, i - s.start) for k, s in enumerate(self._slices) for i in range(s.start, s.stop)]
        """Env index → (actor, index inside the actor)."""
        self._pending: list = []
        observation_space, action_space = self._ray.get(self._actors[0].spaces.remote())
        super().__init__(len(env_fns), observation_space, action_space)

    def step_async(self, actions: np.ndarray) -> None:
        self._pending = [a.step.remote(actions[s]) for a, s in zip(self._actors, self._slices, strict=True)]

    def step_wait(self) -> VecEnvStepReturn:
        results = self._ray.get(self._pending)
        self._pending = []
        obs, rewards, dones, infos, reset_infos = zip(*results, strict=True)
        self.reset_infos = [info for group in reset_infos for info in group]
        return np.concatenate(obs), np.concatenate(rewards), np.concatenate(dones), [i for g in infos for i in g]

    def reset(self) -> VecEnvObs:
        obs, reset_infos = zip(*self._ray.get([a.reset.remote() for a in self._actors]), strict=True)
        self.reset_infos = [info for group in reset_infos for info in group]
        self._reset_seeds()  # the actors used theirs; like SubprocVecEnv, a seed serves one reset
        self._reset_options()
        return np.concatenate(obs)

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        seeds = super().seed(seed)
        self._ray.get([a.call.remote("seed", seeds[s.start]) for a, s in zip(self._actors, self._slices, strict=True)])
        return seeds

    def set_options(self, options: list[dict] | dict | None = None) -> None:
        super().set_options(options)
        calls = [
            a.call.remote("set_options", self._options[s]) for a, s in zip(self._actors, self._slices, strict=True)
        ]
        self._ray.get(calls)

    def _each(self, method: str, indices: VecEnvIndices, *args, **kwargs) -> list:
        """``method`` of the actors' DummyVecEnvs, once per env index, in the order of ``indices``."""
        calls = [
            self._actors[k].call.remote(method, *args, indices=[local], **kwargs)
            for k, local in (self._where[i] for i in self._get_indices(indices))
        ]
        return self._ray.get(calls)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [values[0] for values in self._each("get_attr", indices, attr_name)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._each("set_attr", indices, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return [values[0] for values in self._each("env_method", indices, method_name, *method_args, **method_kwargs)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [values[0] for values in self._each("env_is_wrapped", indices, wrapper_class)]

    def close(self) -> None:
        self._ray.get([a.call.remote("close") for a in self._actors])
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
