"""``hipexo distill run`` (collect → train → DAgger → export → bundle)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from firmware_bridge.config.paths import default_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "distill", help="distil the teacher into an IMU-only student (needs the train extra)"
    )
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    run = sub.add_parser("run", help="collect, train with DAgger, export ONNX and write the bundle")
    run.add_argument("--config", type=Path, default=default_config("distill"))
    run.add_argument("--teacher", type=Path, default=None, help="override the config's teacher run dir")
    run.add_argument("--out", type=Path, default=None, help="override the config's out_dir")
    run.set_defaults(func=run_distill)


def run_distill(args: argparse.Namespace) -> int:
    import dataclasses

    from distill.config import DistillConfig
    from distill.export import bundle_from_distillation
    from distill.train import distil
    from firmware_bridge.config import DeviceConfig, load_config

    config = load_config(args.config, DistillConfig)
    if args.teacher:
        config = dataclasses.replace(config, teacher=str(args.teacher))
    if args.out:
        config = dataclasses.replace(config, out_dir=str(args.out))
    result = distil(config)
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    bundle, worst = bundle_from_distillation(result, device)
    summary = result["summary"]
    print(f"bundle: {bundle} (ONNX parity max |Δ| {worst:.1e}); rounds: {json.dumps(summary['rounds'])}")
    return 0
