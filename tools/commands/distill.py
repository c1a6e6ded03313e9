"""``hipexo distill [collect | train | export | eval] --config C``: the IMU-only student from a teacher.

Without an action all four run in order. Each stage keeps its outputs under the config's ``out_dir`` and
a rerun picks up after the last finished one (collect: the teacher's dataset; train: every DAgger round).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from firmware_bridge.config.paths import default_config
from tools.commands import parallel

STAGES = ("collect", "train", "export", "eval")


def _options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--config", type=Path, default=default, help="kind: distill YAML (default configs/distill/default.yaml)"
    )
    parser.add_argument("--teacher", type=Path, default=default, help="override the config's teacher run dir")
    parser.add_argument("--out", type=Path, default=default, help="override the config's out_dir")
    parallel.add_options(parser, default)  # rollouts of collect and of the DAgger rounds


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "distill", help="distil the teacher into an IMU-only student: collect, train (DAgger), export, eval"
    )
    _options(parser, suppress=False)
    parser.set_defaults(func=run_distill, stages=STAGES)
    sub = parser.add_subparsers(metavar="STAGE", required=False)
    helps = {
        "collect": "teacher rollouts with randomised simulated IMUs → data/round_0.npz",
        "train": "fit the student, then DAgger rounds (the student drives, the teacher labels)",
        "export": "ONNX (opset 17), parity check, bundle (sign it with 'hipexo bundle sign')",
        "eval": "held-out r/RMSE after shaping, peak timing, closed loop, robustness, real IMUs → eval_report.md",
    }
    for stage in STAGES:
        action = sub.add_parser(stage, help=helps[stage])
        _options(action, suppress=True)
        action.set_defaults(stages=(stage,))


def _config(args: argparse.Namespace):
    from distill.config import DistillConfig
    from firmware_bridge.config import load_config

    config = load_config(args.config or default_config("distill"), DistillConfig)
    if args.teacher:
        config = dataclasses.replace(config, teacher=str(args.teacher))
    if args.out:
        config = dataclasses.replace(config, out_dir=str(args.out))
    return config


def run_distill(args: argparse.Namespace) -> int:
    from distill import train
    from tools.errors import UserError

    config = _config(args)
    try:
        with parallel.executor(args) as executor:
            for stage in args.stages:
                print(f"distill {stage}: {train.output_dir(config)}", flush=True)
                if stage == "collect":
                    print(f"  dataset {train.collect_stage(config, executor=executor)}")
                elif stage == "train":
                    rounds = train.train_stage(config, executor=executor)["summary"]["rounds"]
                    print(f"  rounds {json.dumps(rounds)}")
                elif stage == "export":
                    _export(config)
                else:
                    _evaluate(config)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc
    return 0


def _export(config) -> None:
    from distill.export import bundle_from_distillation
    from distill.train import load_trained
    from firmware_bridge.config import DeviceConfig, load_config

    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    bundle, worst = bundle_from_distillation(load_trained(config), device, config.student.streaming)
    print(f"  bundle {bundle} (ONNX parity max |Δ| {worst:.1e}); sign it: hipexo bundle sign {bundle} --key K")


def _evaluate(config) -> None:
    from tqdm import tqdm

    from distill.eval_report import headline, write_eval_report
    from distill.evaluate import conditions, evaluate
    from distill.export import record_eval
    from distill.train import load_trained
    from firmware_bridge.config.paths import REPO_ROOT
    from teacher.policy import TeacherPolicy

    trained = load_trained(config)
    teacher = TeacherPolicy(REPO_ROOT / config.teacher)
    with tqdm(total=len(conditions(config)), desc="eval conditions") as bar:
        figures = evaluate(teacher, trained["model"], trained["spec"], config, progress=lambda _: bar.update())
    report = write_eval_report(figures, trained["out"] / "eval", trained["summary"])
    bundle = trained["out"] / "bundle"
    if (bundle / "manifest.json").is_file():
        record_eval(bundle, headline(figures))
        print(f"  eval figures recorded in {bundle / 'manifest.json'} (sign after this: hipexo bundle sign)")
    for c in figures["conditions"]:
        print(
            f"  {c['speed_m_s']:g} m/s {c['slope_deg']:+g}°{' (held out)' if c['held_out'] else ''}: "
            f"r {c['r']:.3f}, RMSE {c['rmse_nm_per_kg']:.4f} N·m/kg"
        )
    print(f"  report {report}")
