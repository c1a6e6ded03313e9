"""Walker env speed against raw MuJoCo physics on the same model, and peak memory of one env process.

Usage: python benchmarks/sim_step.py [--seconds 20] [--repeats 5]

Side by side in one process pinned to one core, alternating in short blocks so both see the same
machine state: (a) ``HipExoWalkerEnv.step`` with a policy-like action (excitations plus exo commands),
(b) a bare loop of ``mj_step`` doing the same physics substeps per control step on the same compiled
model, with ctrl set once per step. The ratio is the env's overhead (target ≤ 1.3×). Peak memory is the
high-water RSS of a fresh process that builds one env and steps it. MyoSuite's ``myoLegWalk-v0`` is
timed too when ``myosuite`` is importable (it is not in this project's environment).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np


def env_and_raw_rates(seconds: float, repeats: int) -> tuple[list[float], list[float]]:
    import mujoco

    from teacher.env import HipExoWalkerEnv

    env = HipExoWalkerEnv()
    env.reset(seed=0, options={"speed_m_s": 1.25, "phase": 0.0})
    rng = np.random.default_rng(0)
    substeps = env.config.substeps_per_device_period * env.config.device_periods_per_control_step
    model, data = env.backend.model, mujoco.MjData(env.backend.model)
    block = max(1.0, seconds / (2 * repeats))
    env_rates, raw_rates = [], []
    for _ in range(repeats):
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < block:
            action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32) * 0.3
            _, _, terminated, truncated, _ = env.step(action)
            steps += 1
            if terminated or truncated:
                env.reset()
        env_rates.append(steps / (time.perf_counter() - start))
        mujoco.mj_resetDataKeyframe(model, data, 0)
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < block:
            data.ctrl[:] = rng.uniform(0.0, 0.3, model.nu)
            mujoco.mj_step(model, data, nstep=substeps)
            steps += 1
            if steps % 500 == 0:
                mujoco.mj_resetDataKeyframe(model, data, 0)
        raw_rates.append(steps / (time.perf_counter() - start))
    return env_rates, raw_rates


def peak_memory_mb() -> float:
    code = (
        "from teacher.env import HipExoWalkerEnv\nimport numpy as np\nenv = HipExoWalkerEnv()\nenv.reset(seed=0)\n"
        "for _ in range(500):\n    env.step(np.zeros(env.action_space.shape, np.float32))\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def myosuite_rate(seconds: float) -> float | None:
    try:
        import gymnasium as gym
        import myosuite  # noqa: F401
    except ImportError:
        return None
    env = gym.make("myoLegWalk-v0")
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass
    env_rates, raw_rates = env_and_raw_rates(args.seconds, args.repeats)
    ratios = np.array(raw_rates) / np.array(env_rates)
    print(
        f"env (control steps/s, one core): median {np.median(env_rates):.0f}, per block {[round(r) for r in env_rates]}"
    )
    print(
        f"raw mj_step, same substeps:      median {np.median(raw_rates):.0f}, per block {[round(r) for r in raw_rates]}"
    )
    print(
        f"env overhead (raw / env):        median {np.median(ratios):.2f}x, worst {ratios.max():.2f}x (target <= 1.3x)"
    )
    print(f"peak RSS of one env process:     {peak_memory_mb():.0f} MB (target <= 400 MB)")
    rate = myosuite_rate(args.seconds / 2)
    print("MyoSuite myoLegWalk-v0:          " + (f"{rate:.0f} steps/s" if rate else "not installed here (skipped)"))


if __name__ == "__main__":
    main()
