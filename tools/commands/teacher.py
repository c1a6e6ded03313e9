"""``hipexo teacher train``: train (or resume) the privileged teacher."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware_bridge.config.paths import default_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("teacher", help="train and evaluate the privileged teacher (needs the train extra)")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    train = sub.add_parser("train", help="train with Stable-Baselines3 through the curriculum; checkpoints resume")
    train.add_argument("--config", type=Path, default=default_config("teacher"), help="teacher config (kind: teacher)")
    train.add_argument("--run-dir", type=Path, default=None, help="override the config's run_dir")
    train.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint")
    train.add_argument("--steps", type=int, default=None, help="env steps for this sitting (default: to total_steps)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    train.set_defaults(func=run_train)
    ev = sub.add_parser("eval", help="speeds × slopes grid, exo off and on: report (Markdown + PNG) and JSON")
    ev.add_argument("run_dir", type=Path, metavar="CHECKPOINT", help="teacher run directory (holds checkpoint/)")
    ev.add_argument("--speeds", type=float, nargs="+", default=None, help="default 0.8 1.0 1.25 1.5")
    ev.add_argument("--slopes", type=float, nargs="+", default=None, help="default -10 -5 0 5 10")
    ev.add_argument("--episodes", type=int, default=3, help="seeded episodes per condition")
    ev.add_argument("--seconds", type=float, default=10.0, help="episode length")
    ev.add_argument("--workers", type=int, default=2)
    ev.add_argument("--out", type=Path, default=None, help="report folder (default RUN_DIR/eval)")
    ev.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    ev.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    from teacher.training.train import TeacherTrainer
    from tools.errors import UserError

    try:
        trainer = TeacherTrainer(args.config, args.run_dir, resume=args.resume)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    result = trainer.train(args.steps, progress=not args.no_progress)
    print(
        f"teacher: {result.total_steps} steps in total ({result.wall_s / 3600:.2f} h of training), "
        f"{result.steps_this_sitting} this sitting, stage '{result.stage}'; checkpoint in {result.run_dir}/checkpoint"
    )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from teacher import evaluation
    from teacher.eval_report import targets, write_report
    from teacher.policy import TeacherPolicy
    from teacher.sim.reference import ReferenceGait
    from teacher.training import checkpoint
    from tools.errors import UserError

    try:
        teacher = TeacherPolicy(args.run_dir)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc
    results = evaluation.evaluate(
        args.run_dir,
        speeds=tuple(args.speeds or evaluation.SPEEDS),
        slopes=tuple(args.slopes or evaluation.SLOPES),
        episodes=args.episodes,
        seconds=args.seconds,
        workers=args.workers,
    )
    state = checkpoint.read_state(args.run_dir)
    meta = {
        "run_dir": str(args.run_dir),
        "total_steps": teacher.total_steps,
        "wall_h": state["wall_s"] / 3600,
        "stage": teacher.stage,
        "hash": teacher.hash,
        "episodes": args.episodes,
        "seconds": args.seconds,
        "command": "hipexo " + shlex.join(sys.argv[1:]),
    }
    out = args.out or args.run_dir / "eval"
    report = write_report(results, out, meta, ReferenceGait(teacher.sim_config.stride_length_at_1_25_m))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(evaluation.to_json(results, meta))
    for target, measured, met in targets(results):
        print(f"{'met ' if met else 'MISS'}  {target}: {measured}")
    print(f"report: {report}")
    return 0
