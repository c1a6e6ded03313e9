"""How long an IMU window the student needs: held-out accuracy against window length, one dataset, one seed.

Usage: python benchmarks/student_window.py [--config configs/distill/default.yaml] [--teacher RUN_DIR]
       [--windows 8 16 32 64] [--gru-windows 64 128] [--epochs 10] [--plot docs/figures/student_window.png] [--quick]

Fits a student per window length on the same round-0 dataset (``hipexo distill collect``'s, in the
config's out_dir; collected if missing) for the same epochs, then scores every one on the same teacher
rollouts at the evaluation conditions (``distill.evaluate.conditions``: one seen, the rest held out) with
the eval's own comparison (r and RMSE of shaped torque per kg). The TCN's output at the newest sample sees
its receptive field only (``CausalTCN.receptive_field``, 61 periods by default), so windows beyond it change
nothing for the TCN; the GRU reads its whole window and shows whether longer history would help.

``--quick``: TCN 16 and 64, GRU 64, 5 epochs, on a fresh dataset in a temporary folder (1.0 and 1.25 m/s
level, one episode each) and the same evaluation conditions, 5 s episodes throughout; no plot.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from figures import parse_args, print_headline, save_figure  # benchmarks/figures.py, beside this script

from distill.collect import load_dataset, rollout
from distill.config import DistillConfig
from distill.evaluate import compare, conditions, student_commands
from distill.models import build_student, parameter_count
from distill.train import collect_stage, feature_spec, fit, window_count
from firmware_bridge.config import load_config
from teacher.policy import TeacherPolicy

REPO = Path(__file__).resolve().parents[1]


def score(config: DistillConfig, architecture: str, window: int, train_episodes, tests, rate_hz: float) -> dict:
    """Fit one student; ``tests`` are (episode, held out) pairs, scored like ``hipexo distill eval``."""
    student_config = dataclasses.replace(config.student, architecture=architecture, window=window)
    config = dataclasses.replace(config, student=student_config)
    spec = feature_spec(config, train_episodes, rate_hz)
    model = build_student(student_config, spec)
    start = time.perf_counter()
    fit(model, spec, train_episodes, config, progress=False)
    seconds = time.perf_counter() - start
    held = [compare(e, student_commands(model, spec, e.imu), e.labels, rate_hz) for e, held_out in tests if held_out]
    return {
        "architecture": architecture,
        "window": window,
        "window_s": window / rate_hz,
        "parameters": parameter_count(model),
        "train_windows": window_count(spec, train_episodes),
        "fit_s": seconds,
        "held_out_r": float(np.nanmean([row["r"] for row in held])),
        "held_out_rmse_nm_per_kg": float(np.mean([row["rmse_nm_per_kg"] for row in held])),
        "peak_timing_error_pct": float(np.nanmean([row["peak_timing_error_pct"] for row in held])),
    }


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for architecture in dict.fromkeys(r["architecture"] for r in results):
        rows = [r for r in results if r["architecture"] == architecture]
        for ax, key, label in zip(
            axes,
            ("held_out_r", "held_out_rmse_nm_per_kg"),
            ("held-out r (shaped torque)", "held-out RMSE (N·m/kg)"),
            strict=True,
        ):
            ax.plot([r["window_s"] for r in rows], [r[key] for r in rows], marker="o", label=architecture)
            ax.set_xlabel("window (s)")
            ax.set_xscale("log", base=2)
            ax.set_title(label, fontsize=10)
    axes[0].legend()
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs/distill/default.yaml")
    parser.add_argument("--teacher", help="override the config's teacher run dir")
    parser.add_argument("--windows", type=int, nargs="+", default=[8, 16, 32, 64], help="TCN windows (periods)")
    parser.add_argument("--gru-windows", type=int, nargs="*", default=[64, 128])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--plot", type=Path, default=REPO / "docs/figures/student_window.png")
    parser.add_argument("--json", type=Path, default=REPO / "runs/bench/student_window.json")
    quick_json = REPO / "runs/bench/student_window_quick.json"
    args = parse_args(parser, windows=[16, 64], gru_windows=[64], epochs=5, plot=None, json=quick_json)
    config = load_config(args.config, DistillConfig)
    config = dataclasses.replace(config, epochs=args.epochs, **({"teacher": args.teacher} if args.teacher else {}))
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:  # its own small dataset, never the config's out_dir (collect_stage keeps a dataset it finds)
            quick = {"speeds_m_s": [1.0, 1.25], "slopes_deg": [0.0], "episode_s": 5.0, "out_dir": tmp}
            config = dataclasses.replace(config, **quick)
        run(args, config)


def run(args: argparse.Namespace, config: DistillConfig) -> None:
    teacher = TeacherPolicy(REPO / config.teacher)
    train_episodes = load_dataset(collect_stage(config))
    rate = teacher.sim_config.device_rate_hz
    tests = [
        (rollout(teacher, config, speed, slope, config.seed + 900_000 + k), held_out)
        for k, (speed, slope, held_out) in enumerate(conditions(config))
    ]
    jobs = [("tcn", w) for w in args.windows] + [("gru", w) for w in args.gru_windows]
    results = []
    print(f"teacher {config.teacher} at {teacher.total_steps} steps; {len(train_episodes)} training episodes")
    print("| student | window | periods | parameters | training windows | fit (s) | held-out r | RMSE (N·m/kg) |")
    print("|---|---|---|---|---|---|---|---|")
    for architecture, window in jobs:
        r = score(config, architecture, window, train_episodes, tests, rate)
        results.append(r)
        print(
            f"| {architecture} | {r['window_s']:.2f} s | {window} | {r['parameters']:,} | {r['train_windows']:,} | "
            f"{r['fit_s']:.0f} | {r['held_out_r']:.3f} | {r['held_out_rmse_nm_per_kg']:.4f} |",
            flush=True,
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"teacher_steps": teacher.total_steps, "results": results}, indent=1))
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot}")
    headline = {"teacher_steps": teacher.total_steps}
    for r in results:
        key = f"{r['architecture']}_w{r['window']}"
        headline |= {
            f"{key}_held_out_r": r["held_out_r"],
            f"{key}_held_out_rmse_nm_per_kg": r["held_out_rmse_nm_per_kg"],
        }
    print_headline(headline, args.quick)


if __name__ == "__main__":
    main()
