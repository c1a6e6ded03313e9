"""``hipexo bench``: the HIL bench (IMU simulator, motor-controller emulator, real runtime) with a report."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware_bridge.config.paths import default_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="hardware-in-the-loop bench with fault injection and a report")
    parser.add_argument("--scenario", type=Path, default=default_config("bench"), help="kind: bench YAML")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--bundle", type=Path, help="student bundle (default: the baseline controller)")
    which.add_argument("--baseline", type=Path, default=None, help="baseline controller config")
    parser.add_argument("--trusted-keys", type=Path, default=None, help="signers the runtime accepts (for --bundle)")
    parser.add_argument("--allow-unsigned", action="store_true", help="DEVELOPMENT ONLY: run an unsigned bundle")
    parser.add_argument("--runtime-config", type=Path, default=default_config("runtime"))
    parser.add_argument("--device-config", type=Path, default=default_config("device", "hip_exo"))
    parser.add_argument("--subject-config", type=Path, default=default_config("subject"))
    parser.add_argument("--out", type=Path, default=Path("out/bench"), help="report folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from firmware_bridge.config import DeviceConfig, SubjectConfig, load_config
    from hil.bench import run_bench
    from hil.bench_report import analyse, write_json, write_report
    from hil.scenario import BenchScenario

    scenario = load_config(args.scenario, BenchScenario)
    device = load_config(args.device_config, DeviceConfig)
    subject = load_config(args.subject_config, SubjectConfig)
    if args.bundle:
        controller, title = ["--bundle", str(args.bundle)], f"student {args.bundle}"
        controller += ["--trusted-keys", str(args.trusted_keys)] if args.trusted_keys else []
        controller += ["--allow-unsigned"] if args.allow_unsigned else []
    else:
        baseline = args.baseline or default_config("controller", "baseline")
        controller, title = ["--baseline", str(baseline)], "baseline controller"
    with tqdm(total=round(scenario.duration_s), desc="bench", unit="s") as bar:

        def progress(t: float) -> None:
            bar.update(int(t) - bar.n)

        result = run_bench(
            scenario, controller, args.out / "work", device, args.device_config, args.runtime_config, progress
        )
    ids = device.imu_ids()
    figures = analyse(result, (ids["thigh_r"], ids["thigh_l"]), scenario.imu_rate_hz, subject.body_mass_kg)
    report = write_report(result, figures, args.out, title)
    if args.json:
        write_json(figures, args.json)
    for f in figures["faults"]:
        print(f"{'pass' if f['passed'] else 'FAIL'}  {f['type']:<14} {f['expectation']}: {f['detail']}")
    rt = figures["round_trip_ms"]
    print(
        f"round trip IMU frame → command: p50 {rt.get('p50', float('nan')):.2f} ms, p99 {rt.get('p99', float('nan')):.2f} ms"
    )
    print(f"report: {report}  ({'PASS' if figures['all_passed'] else 'FAIL'})")
    return 0 if figures["all_passed"] else 1
