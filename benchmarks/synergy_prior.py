"""Sample efficiency of the muscle-synergy action prior against per-muscle actions, stage-1 walking.

Usage: python benchmarks/synergy_prior.py [--steps 65536] [--plot docs/figures/synergy_prior.png] [--fresh] [--quick]

Trains configs/teacher/compare_muscles.yaml and compare_synergies.yaml from scratch with the real
``hipexo teacher train`` for the same number of env steps (same seed, PPO settings and prior; only the
action space differs: 22 muscle residuals, or 4 mirrored synergies per leg from ``hipexo teacher
synergies``), then compares their progress rows (last 50 training episodes at each rollout). A run
that was cut off resumes from its checkpoint; ``--fresh`` starts both over.

``--quick``: 8,192 steps per run, fresh, in a temporary folder, with PPO rollouts of 512 steps per env worker
(with the default 8 workers, a rollout and a progress row every 4,096 steps) and batches of 256; the rest
of the configs as they are; no plot.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from figures import parse_args, print_headline, save_figure  # benchmarks/figures.py, beside this script

REPO = Path(__file__).resolve().parents[1]
RUNS = {
    "muscles": (REPO / "configs/teacher/compare_muscles.yaml", REPO / "runs/teacher/compare-muscles"),
    "synergies": (REPO / "configs/teacher/compare_synergies.yaml", REPO / "runs/teacher/compare-synergies"),
}


def train(config: Path, run_dir: Path, steps: int) -> None:
    done = _rows(run_dir)
    remaining = steps - (int(done[-1]["step"]) if done else 0)
    if remaining <= 0:
        return
    command = [sys.executable, "-m", "tools.cli", "teacher", "train", "--config", str(config), "--no-progress"]
    command += ["--out", str(run_dir)]
    command += ["--steps", str(remaining)] + (["--resume"] if (run_dir / "checkpoint").exists() else [])
    subprocess.run(command, cwd=REPO, check=True)


def quick_config(config: Path, folder: Path) -> Path:
    """``config`` with short PPO rollouts, written to ``folder`` (its stages' sim paths made absolute)."""
    stages = yaml.safe_load(config.read_text())["stages"]
    quick = {
        "kind": "teacher",
        "extends": str(config),
        "checkpoint_every_steps": 1024,
        "ppo": {"n_steps": 512, "batch_size": 256},
        "stages": [s | {"sim": str((config.parent / s["sim"]).resolve())} for s in stages],
    }
    path = folder / config.name
    path.write_text(yaml.safe_dump(quick))
    return path


def _rows(run_dir: Path) -> list[dict[str, str]]:
    path = run_dir / "progress.csv"
    return list(csv.DictReader(path.open())) if path.exists() else []


def first_step(rows: list[dict[str, str]], column: str, passes) -> str:
    """The first step at which ``column`` passes, or '—'."""
    hits = [r["step"] for r in rows if r[column] and passes(float(r[column]))]
    return hits[0] if hits else "—"


def plot(curves: dict[str, list[dict[str, str]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, rows in curves.items():
        rows = [r for r in rows if r["fall_rate"]]
        steps = [int(r["step"]) / 1000 for r in rows]
        for ax, column, label in zip(
            axes,
            ("mean_episode_steps", "fall_rate", "joint_tracking"),
            ("mean episode (control steps, 500 = 10 s)", "fall rate (last 50 episodes)", "joint tracking"),
            strict=True,
        ):
            ax.plot(steps, [float(r[column]) for r in rows], marker="o", label=name)
            ax.set_xlabel("env steps (thousands)")
            ax.set_title(label, fontsize=10)
    axes[0].legend()
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=65536, help="env steps per run")
    parser.add_argument("--plot", type=Path, default=REPO / "docs/figures/synergy_prior.png")
    parser.add_argument("--fresh", action="store_true", help="delete both runs first")
    args = parse_args(parser, steps=8192, plot=None)
    with tempfile.TemporaryDirectory() as tmp:
        runs = RUNS
        if args.quick:
            runs = {name: (quick_config(config, Path(tmp)), Path(tmp) / name) for name, (config, _) in RUNS.items()}
        for config, run_dir in runs.values():
            if args.fresh:
                shutil.rmtree(run_dir, ignore_errors=True)
            train(config, run_dir, args.steps)
        curves = {name: _rows(run_dir) for name, (_, run_dir) in runs.items()}
    print(
        "| actions | steps | mean episode (steps) | fall rate | joint tracking | first step with mean episode ≥ 300 |"
    )
    print("|---|---|---|---|---|---|")
    for name, rows in curves.items():
        last = rows[-1]
        reach = first_step(rows, "mean_episode_steps", lambda v: v >= 300)
        print(
            f"| {name} | {last['step']} | {last['mean_episode_steps']} | {last['fall_rate']} | "
            f"{last['joint_tracking']} | {reach} |"
        )
    if args.plot:
        plot(curves, args.plot)
        print(f"plot: {args.plot}")
    headline = {}
    for name, rows in curves.items():
        rows = [r for r in rows if r["fall_rate"]]  # rows after at least one episode
        headline |= {
            f"{name}_steps": int(rows[-1]["step"]),
            f"{name}_first_row_step": int(rows[0]["step"]),
            f"{name}_fall_rate_first_row": float(rows[0]["fall_rate"]),
            f"{name}_fall_rate_last": float(rows[-1]["fall_rate"]),
            f"{name}_mean_episode_steps_last": float(rows[-1]["mean_episode_steps"]),
            f"{name}_mean_episode_steps_worst": min(float(r["mean_episode_steps"]) for r in rows),
            f"{name}_joint_tracking_last": float(rows[-1]["joint_tracking"]),
            f"{name}_train_wall_s": float(rows[-1]["wall_s"]),
        }
    print_headline(headline, args.quick)


if __name__ == "__main__":
    main()
