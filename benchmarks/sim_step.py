"""Walker env speed against raw MuJoCo physics on the same model, substeps and trajectory.

Usage: python benchmarks/sim_step.py [--seconds 40] [--repeats 8] [--quick]

Side by side in one process pinned to one core, alternating in short blocks so both see the same machine
state: (a) ``HipExoWalkerEnv.step`` walking 1.25 m/s level with the tracking prior and a small random residual
plus exo commands (a policy-like action), recording the controls it applies each device period; (b) a bare
loop that restores the same start state and replays those controls with ``mj_step`` and the same substeps,
so the raw physics follows the env's own trajectory (the same contacts). The ratio is the env's overhead
(target ≤ 1.5×), reported as the median and the worst block. Peak memory is the high-water RSS of a fresh
process that builds one env and steps it. The last line is the headline as JSON.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import mujoco
import numpy as np
from figures import parse_args, print_headline  # benchmarks/figures.py, beside this script

EPISODE_STEPS = 250
"""Control steps per replayed episode (5 s): short enough that the random residual rarely fells the walker."""


def env_and_raw_rates(seconds: float, repeats: int) -> tuple[list[float], list[float]]:
    from teacher.env import HipExoWalkerEnv

    env = HipExoWalkerEnv()
    backend = env.backend
    model, data = backend.model, backend.data
    substeps = env.config.substeps_per_device_period
    kind = mujoco.mjtState.mjSTATE_INTEGRATION
    rng = np.random.default_rng(0)
    block = max(1.0, seconds / (2 * repeats))
    env_rates, raw_rates = [], []
    replay = mujoco.MjData(model)
    step_physics = backend.step
    episodes: list[tuple[np.ndarray, list[np.ndarray]]] = []  # (start state, controls of each device period)

    def recording_step(excitations, exo_torque_nm, substeps=1):
        step_physics(excitations, exo_torque_nm, substeps)
        episodes[-1][1].append(data.ctrl.copy())

    for _ in range(repeats):
        episodes.clear()
        backend.step = recording_step
        steps, length, started = 0, EPISODE_STEPS, time.perf_counter()
        while time.perf_counter() - started < block:
            if length == EPISODE_STEPS:
                env.reset(seed=steps, options={"speed_m_s": 1.25, "slope_deg": 0.0, "phase": 0.0})
                state = np.empty(mujoco.mj_stateSize(model, kind))
                mujoco.mj_getState(model, data, state, kind)
                episodes.append((state, []))
                length = 0
            action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32) * 0.3
            terminated = env.step(action)[2]
            steps += 1
            length = EPISODE_STEPS if terminated else length + 1
        env_rates.append(steps / (time.perf_counter() - started))
        backend.step = step_physics
        periods = env.config.device_periods_per_control_step
        steps, started = 0, time.perf_counter()
        while time.perf_counter() - started < block:
            for state, controls in episodes:
                mujoco.mj_setState(model, replay, state, kind)
                mujoco.mj_forward(model, replay)
                for ctrl in controls:
                    replay.ctrl[:] = ctrl
                    mujoco.mj_step(model, replay, nstep=substeps)
                steps += len(controls) // periods
                if time.perf_counter() - started >= block:
                    break
        raw_rates.append(steps / (time.perf_counter() - started))
    return env_rates, raw_rates


def peak_memory_mb() -> float:
    code = (
        "from teacher.env import HipExoWalkerEnv\nimport numpy as np\nenv = HipExoWalkerEnv()\nenv.reset(seed=0)\n"
        "for _ in range(500):\n    env.step(np.zeros(env.action_space.shape, np.float32))\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="total timed seconds (both loops)")
    parser.add_argument("--repeats", type=int, default=8, help="blocks of each loop, alternating")
    args = parse_args(parser, seconds=10.0, repeats=4)  # --quick: no memory probe either
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
        f"raw mj_step, same trajectory:    median {np.median(raw_rates):.0f}, per block {[round(r) for r in raw_rates]}"
    )
    print(
        f"env overhead (raw / env):        median {np.median(ratios):.2f}x, worst {ratios.max():.2f}x (target <= 1.5x)"
    )
    headline = {
        "env_steps_s": round(float(np.median(env_rates))),
        "raw_steps_s": round(float(np.median(raw_rates))),
        "overhead": round(float(np.median(ratios)), 3),
        "overhead_worst": round(float(ratios.max()), 3),
    }
    if not args.quick:
        headline["peak_rss_mb"] = round(peak_memory_mb())
        print(f"peak RSS of one env process:     {headline['peak_rss_mb']} MB")
    print_headline(headline, args.quick)


if __name__ == "__main__":
    main()
