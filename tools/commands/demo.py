"""``hipexo demo``: the whole path on one machine, from the shipped teacher to a walking-trial report.

distil a small student → export and verify the bundle → sign it with a new key → install it into a local
device directory that trusts that key → run the closed-loop HIL bench with the installed student (the
simulated walker wears the device over real serial links) → trial log → bench and trial reports.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from firmware_bridge.config.paths import default_config
from tools.commands.run import add_live_option
from tools.output_dir import fresh_output_dir
from tools.vocabulary import add_renamed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="teacher → student → signed bundle → device → closed-loop HIL → report")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        help="everything the demo writes: a new or empty folder, or one an earlier demo wrote (replaced)",
    )
    parser.add_argument("--teacher", type=Path, default=None, help="teacher run dir (default: the shipped teacher)")
    parser.add_argument(
        "--distill-config", type=Path, default=default_config("distill", "demo"), help="kind: distill (the student)"
    )
    add_renamed(
        parser,
        "--bench-config",
        ["--bench"],
        type=Path,
        default=default_config("bench", "closed_loop"),
        help="kind: bench",
    )
    parser.add_argument(
        "--duration", type=float, default=None, metavar="SECONDS", help="bench seconds (default: the scenario's, 60)"
    )
    add_live_option(parser)
    parser.set_defaults(func=run_demo)


def _step(number: int, text: str) -> float:
    print(f"\n[{number}/6] {text}", flush=True)
    return time.monotonic()


def run_demo(args: argparse.Namespace) -> int:
    from distill.config import DistillConfig
    from distill.export import bundle_from_distillation
    from distill.train import distil
    from firmware_bridge.config import DeviceConfig, load_config
    from firmware_bridge.config.paths import REPO_ROOT
    from firmware_bridge.device_root import DeviceRoot
    from firmware_bridge.signing import new_key, sign_bundle
    from hil.scenario import BenchScenario
    from tools.commands import bench
    from tools.commands.teacher import teacher_run

    started = time.monotonic()
    config = load_config(args.distill_config, DistillConfig)
    if args.teacher:
        config = dataclasses.replace(config, teacher=str(args.teacher))
    teacher_run(REPO_ROOT / config.teacher)  # before anything is written
    out = fresh_output_dir(args.out, "demo")
    config = dataclasses.replace(config, out_dir=str(out / "distill"))
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)

    _step(1, f"distil a student from the teacher {config.teacher}")
    result = distil(config)
    _step(2, "export ONNX and write the bundle")
    bundle, worst = bundle_from_distillation(result, device, config.student.streaming)
    print(f"bundle {bundle}: ONNX parity max |Δ| {worst:.1e}")

    _step(3, "sign the bundle with a new key")
    key = out / "keys" / "demo-signer.key"
    public = new_key(key, "demo-signer")
    sign_bundle(bundle, key)
    print(f"signed by {public.name} ({public.key_id})")

    _step(4, "install it into a local device directory that trusts that key")
    root = DeviceRoot(out / "device")
    root.root.mkdir(parents=True)
    root.trusted_keys.write_text(public.line() + "\n")
    version, signed_by = root.install_local(bundle)
    print(f"installed {version} ({signed_by}); {root.current} -> bundles/{version}")

    scenario = load_config(args.bench_config, BenchScenario)
    if args.duration:
        scenario = dataclasses.replace(scenario, duration_s=args.duration)
    scenario_path = out / "bench_scenario.yaml"
    _write_scenario(args.bench_config, scenario_path, scenario.duration_s, args.teacher)
    _step(5, f"closed-loop HIL bench, {scenario.duration_s:g} s: the simulated walker wears the installed student")
    bench_args = argparse.Namespace(
        config=scenario_path,
        bundle=root.current.resolve(),
        baseline=None,
        trusted_keys=root.trusted_keys,
        allow_unsigned=False,
        runtime_config=root.runtime_config_path,
        device_config=root.device_config_path,
        subject_config=default_config("subject"),
        out=out / "bench",
        json=out / "bench" / "figures.json",
        live=args.live,
    )
    status = bench.run(bench_args)

    _step(6, "trial report")
    from analysis.trial_report import analyse_trial, leg_warning, write_trial_report

    trials = sorted((out / "bench" / "work" / "trials").glob("*.mcap"))
    if not trials:
        return status
    trial = trials[-1]
    figures = analyse_trial(trial, out / "bench" / "simulated_run.npz")
    report = write_trial_report(figures, out / "trial_report")
    if leg_warning(figures):
        print(leg_warning(figures))
    print(f"trial log {trial}\ntrial report {report}\nbench report {out / 'bench' / 'bench_report.md'}")
    print(f"\ndemo finished in {(time.monotonic() - started) / 60:.1f} min")
    return status


def _write_scenario(source: Path, target: Path, duration_s: float, teacher: Path | None) -> None:
    import yaml

    from firmware_bridge.config.schema import read_yaml

    data = read_yaml(source)
    data["duration_s"] = duration_s
    if teacher is not None:
        data["source"]["path"] = str(Path(teacher).resolve())
    target.write_text(yaml.safe_dump(data, sort_keys=False))
