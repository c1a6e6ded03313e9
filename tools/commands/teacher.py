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
