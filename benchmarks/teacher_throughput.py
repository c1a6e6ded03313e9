"""Teacher PPO end to end on this machine: env steps per second of wall time, and where the time goes.

Usage: python benchmarks/teacher_throughput.py [--seconds 300] [--before] [--quick]

Trains the default teacher config (``configs/teacher/default.yaml``: its env workers, torch threads, rollout
and update settings) from scratch in a temporary run directory for at least ``--seconds`` of wall time,
stopping at a rollout boundary, with nothing else running. Reports env steps / wall second including worker
start-up (what a sitting gets), the collection rate (rollouts only) and the update's share of wall time.
``--before`` also runs the settings this project used before they were chosen by measurement (2 envs, one
per worker process, 2 torch threads, 4096-step rollouts per env), for the ratio in the same run. The last line is the
headline as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from figures import parse_args, print_headline  # benchmarks/figures.py, beside this script

REPO = Path(__file__).resolve().parents[1]


def measure(config_path: Path, seconds: float, **overrides) -> dict:
    from teacher.executor import machine_workers
    from teacher.training.train import TeacherTrainer

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = TeacherTrainer(config_path, run_dir=Path(run_dir))
        ppo = overrides.pop("ppo", {})
        trainer.config = dataclasses.replace(
            trainer.config, **overrides, ppo=dataclasses.replace(trainer.config.ppo, **ppo)
        )
        started = time.perf_counter()
        result = trainer.train(seconds=seconds, progress=False)
        wall = time.perf_counter() - started
    config = trainer.config
    return {
        "n_envs": config.n_envs,
        "env_workers": config.env_workers or machine_workers(),
        "torch_threads": config.torch_threads,
        "rollout_steps": config.ppo.n_steps * config.n_envs,
        "steps": result.steps_this_sitting,
        "wall_s": round(wall, 1),
        "env_steps_s": round(result.steps_this_sitting / wall),
        "collect_env_steps_s": round(result.steps_this_sitting / result.collect_s),
        "update_share": round(result.update_s / wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs/teacher/default.yaml")
    parser.add_argument("--seconds", type=float, default=300.0, help="minimum wall time of each training run")
    parser.add_argument("--before", action="store_true", help="also time the previous settings (2 envs, 2 threads)")
    args = parse_args(parser, seconds=40.0, before=False)
    runs = {"default": measure(args.config, args.seconds)}
    if args.before:
        runs["before"] = measure(args.config, args.seconds, n_envs=2, torch_threads=2, ppo={"n_steps": 4096})
    for name, run in runs.items():
        print(
            f"{name:8s} {run['n_envs']} envs in {run['env_workers']} worker processes, {run['torch_threads']} torch threads, "
            f"{run['rollout_steps']}-step rollouts: {run['env_steps_s']} env steps/s over {run['wall_s']} s "
            f"({run['steps']} steps; collecting {run['collect_env_steps_s']}/s; update {run['update_share']:.1%} of wall)"
        )
    headline = {
        "ppo_env_steps_s": runs["default"]["env_steps_s"],
        **{f"default_{k}": v for k, v in runs["default"].items()},
    }
    if "before" in runs:
        headline["before_ppo_env_steps_s"] = runs["before"]["env_steps_s"]
        headline["speedup"] = round(runs["default"]["env_steps_s"] / runs["before"]["env_steps_s"], 2)
    print_headline(headline, args.quick)


if __name__ == "__main__":
    main()
