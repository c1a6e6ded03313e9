"""PPO's env workers: a few worker processes (or Ray actors), each stepping a group of envs in turn.

SB3's ``SubprocVecEnv`` gives every env a process. With 8 envs on 2 cores that is 9 busy processes: each step
wakes 8 workers, which preempt the learner while it is still sending actions, and evict each other's caches.
Measured without a policy (20 s of stepping the walker): 8 envs as 2 groups of 4 made 1,812 env steps/s,
``SubprocVecEnv`` 977–1,127 in the same minutes (docs/benchmarks.md).

Each worker holds its envs in an SB3 ``DummyVecEnv``, so auto-reset, ``terminal_observation``,
``TimeLimit.truncated`` and per-env seeding are SB3's own code, as in ``SubprocVecEnv``; this class only splits
the actions, gathers the results and forwards seeds, options and env calls to the right group. Env ``i`` is
seeded ``seed + i`` wherever it lives, so the same seeds give the same rollouts as ``SubprocVecEnv`` (rewards
come back float32, DummyVecEnv's buffer, where ``SubprocVecEnv`` gives float64; PPO's buffer keeps float32).

Two transports carry the calls: local processes over pipes (the default), or Ray actors
(``hipexo teacher train --ray ADDRESS``, docs/cluster.md), where the learner stays in the CLI process (Ray's
driver) and every step is one round trip per actor.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    CloudpickleWrapper,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from teacher.executor import worker_ignores_stop_signals

EnvFns = list[Callable[[], gym.Env]]


class EnvGroup:
    """Inside a worker: some of the envs, stepped in turn."""

    def __init__(self, env_fns: EnvFns) -> None:
        self.venv = DummyVecEnv(env_fns)

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        return self.venv.observation_space, self.venv.action_space

    def step(self, actions: np.ndarray) -> tuple:
        return (*self.venv.step(actions), self.venv.reset_infos)

    def reset(self) -> tuple:
        return self.venv.reset(), self.venv.reset_infos

    def call(self, method: str, *args, **kwargs) -> Any:
        return getattr(self.venv, method)(*args, **kwargs)


class _Workers(ABC):
    """Where the groups live. ``submit`` starts a call of an :class:`EnvGroup` method; ``gather`` waits for
    several, in the order given (calls to one group are answered in the order they were submitted)."""

    @abstractmethod
    def submit(self, group: int, method: str, *args, **kwargs) -> Any: ...

    @abstractmethod
    def gather(self, handles: Sequence[Any]) -> list: ...

    @abstractmethod
    def close(self) -> None: ...


def _serve(conn: Connection, env_fns: CloudpickleWrapper) -> None:
    """A local worker process: builds its group, then answers (method, args, kwargs) until told to stop or the
    trainer's end of the pipe closes."""
    worker_ignores_stop_signals()
    group = EnvGroup(env_fns.var)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            break
        if request is None:
            break
        method, args, kwargs = request
        try:
            conn.send((True, getattr(group, method)(*args, **kwargs)))
        except Exception:
            conn.send((False, traceback.format_exc()))
    group.venv.close()
    conn.close()


class _LocalWorkers(_Workers):
    """One forkserver process per group, each with its own pipe."""

    def __init__(self, groups: list[EnvFns]) -> None:
        context = mp.get_context("forkserver")
        self._conns: list[Connection] = []
        self._processes = []
        for env_fns in groups:
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, CloudpickleWrapper(env_fns)), daemon=True)
            process.start()
            child.close()  # the worker's death then reads as EOF here
            self._conns.append(parent)
            self._processes.append(process)

    def submit(self, group: int, method: str, *args, **kwargs) -> int:
        self._conns[group].send((method, args, kwargs))
        return group

    def gather(self, handles: Sequence[int]) -> list:
        results = []
        for group in handles:
            try:
                ok, value = self._conns[group].recv()
            except (EOFError, OSError):  # EOF, or a connection reset by the dying worker
                raise RuntimeError(f"env worker {group} died (exit code {self._processes[group].exitcode})") from None
            if not ok:
                raise RuntimeError(f"env worker {group} raised:\n{value}")
            results.append(value)
        return results

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        for conn in self._conns:
            conn.close()


class _RayWorkers(_Workers):
    """One Ray actor (1 CPU) per group."""

    def __init__(self, groups: list[EnvFns], ray) -> None:
        self._ray = ray
        actor = ray.remote(num_cpus=1, max_restarts=0)(EnvGroup)
        self._actors = [actor.remote(env_fns) for env_fns in groups]

    def submit(self, group: int, method: str, *args, **kwargs) -> Any:
        return getattr(self._actors[group], method).remote(*args, **kwargs)

    def gather(self, handles: Sequence[Any]) -> list:
        return self._ray.get(list(handles))

    def close(self) -> None:
        self._ray.get([a.call.remote("close") for a in self._actors])
        for actor in self._actors:
            self._ray.kill(actor)
        self._ray.shutdown()  # the connection ``connect_ray`` opened: a driver left connected dies with its cluster


class GroupedVecEnv(VecEnv):
    """``VecEnv`` over ``groups`` workers holding consecutive slices of the envs.

    ``ray_address``: the workers are Ray actors there, at most one per CPU of the cluster (an actor that asks
    for a CPU the cluster does not have would wait for it forever); None: local processes.
    """

    def __init__(self, env_fns: EnvFns, groups: int, ray_address: str | None = None) -> None:
        if ray_address is not None:
            from teacher.executor import connect_ray

            ray = connect_ray(ray_address)
            groups = min(groups, max(1, int(ray.cluster_resources().get("CPU", 1))))
        per_group = -(-len(env_fns) // max(1, min(groups, len(env_fns))))
        self._slices = [slice(lo, min(lo + per_group, len(env_fns))) for lo in range(0, len(env_fns), per_group)]
        fns = [env_fns[s] for s in self._slices]
        self._workers: _Workers = _RayWorkers(fns, ray) if ray_address is not None else _LocalWorkers(fns)
        self._where = [(k, i - s.start) for k, s in enumerate(self._slices) for i in range(s.start, s.stop)]
        """Env index → (group, index inside the group)."""
        self._pending: list = []
        observation_space, action_space = self._call_all("spaces")[0]
        super().__init__(len(env_fns), observation_space, action_space)

    def _call_all(self, method: str, *per_group_args: Sequence) -> list:
        """``method`` on every group at once; ``per_group_args`` hold one argument list per group."""
        handles = [
            self._workers.submit(k, method, *(args[k] for args in per_group_args)) for k in range(len(self._slices))
        ]
        return self._workers.gather(handles)

    def step_async(self, actions: np.ndarray) -> None:
        self._pending = [self._workers.submit(k, "step", actions[s]) for k, s in enumerate(self._slices)]

    def step_wait(self) -> VecEnvStepReturn:
        results = self._workers.gather(self._pending)
        self._pending = []
        obs, rewards, dones, infos, reset_infos = zip(*results, strict=True)
        self.reset_infos = [info for group in reset_infos for info in group]
        return np.concatenate(obs), np.concatenate(rewards), np.concatenate(dones), [i for g in infos for i in g]

    def reset(self) -> VecEnvObs:
        obs, reset_infos = zip(*self._call_all("reset"), strict=True)
        self.reset_infos = [info for group in reset_infos for info in group]
        self._reset_seeds()  # the groups used theirs; like SubprocVecEnv, a seed serves one reset
        self._reset_options()
        return np.concatenate(obs)

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        seeds = super().seed(seed)
        self._call_all("call", ["seed"] * len(self._slices), [seeds[s.start] for s in self._slices])
        return seeds

    def set_options(self, options: list[dict] | dict | None = None) -> None:
        super().set_options(options)
        self._call_all("call", ["set_options"] * len(self._slices), [self._options[s] for s in self._slices])

    def _each(self, method: str, indices: VecEnvIndices, *args, **kwargs) -> list:
        """``method`` of the groups' DummyVecEnvs, once per env index, in the order of ``indices``."""
        handles = [
            self._workers.submit(k, "call", method, *args, indices=[local], **kwargs)
            for k, local in (self._where[i] for i in self._get_indices(indices))
        ]
        return self._workers.gather(handles)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [values[0] for values in self._each("get_attr", indices, attr_name)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._each("set_attr", indices, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return [values[0] for values in self._each("env_method", indices, method_name, *method_args, **method_kwargs)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [values[0] for values in self._each("env_is_wrapped", indices, wrapper_class)]

    def close(self) -> None:
        if self._pending:  # a step in flight: collect it, so every worker is idle before it is told to stop
            self._workers.gather(self._pending)
            self._pending = []
        self._workers.close()
