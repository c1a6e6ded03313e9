"""``hipexo bench``: the HIL bench (IMU simulator, motor-controller emulator, real runtime) with a report."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware_bridge.config.paths import default_config
from tools.commands.run import add_live_option, live_address
from tools.errors import ExitCode, UserError
from tools.vocabulary import add_json_option, add_renamed, write_json_output


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="hardware-in-the-loop bench with fault injection and a report")
    add_renamed(parser, "--config", ["--scenario"], type=Path, default=default_config("bench"), help="kind: bench YAML")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--bundle", type=Path, help="student bundle (default: the baseline controller)")
    which.add_argument("--baseline", type=Path, default=None, help="baseline controller config")
    parser.add_argument("--trusted-keys", type=Path, default=None, help="signers the runtime accepts (for --bundle)")
    parser.add_argument("--allow-unsigned", action="store_true", help="DEVELOPMENT ONLY: run an unsigned bundle")
    parser.add_argument("--runtime-config", type=Path, default=default_config("runtime"), help="kind: runtime")
    parser.add_argument("--device-config", type=Path, default=default_config("device", "hip_exo"), help="kind: device")
    parser.add_argument("--subject-config", type=Path, default=default_config("subject"), help="the simulated wearer")
    parser.add_argument("--out", type=Path, default=Path("out/bench"), help="report folder")
    add_json_option(parser, "also the figures")
    add_live_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig, load_config
    from hil.bench import RuntimeExited, run_bench
    from hil.bench_report import analyse, closed_loop_summary, describe_cause, failing, figures_json, write_report
    from hil.scenario import BenchScenario

    scenario = load_config(args.config, BenchScenario)
    if scenario.source.kind == "walker" and not args.bundle:
        raise UserError("a walker source is compared with the same student in simulation: pass --bundle")
    device = load_config(args.device_config, DeviceConfig)
    subject = load_config(args.subject_config, SubjectConfig)
    if args.bundle:
        controller, title = ["--bundle", str(args.bundle)], f"student {args.bundle}"
        controller += ["--trusted-keys", str(args.trusted_keys)] if args.trusted_keys else []
        controller += ["--allow-unsigned"] if args.allow_unsigned else []
    else:
        baseline = args.baseline or default_config("controller", "baseline")
        controller, title = ["--baseline", str(baseline)], "baseline controller"
    live = live_address(args.live)
    if live is not None:
        controller += ["--live", f"{live.host}:{live.port}"]
        print(
            f"live view on {live.host}:{live.port}: the runtime's address line is in {args.out / 'work' / 'runtime_output.txt'}"
        )
    with tqdm(total=round(scenario.duration_s), desc="bench", unit="s") as bar:

        def progress(t: float) -> None:
            bar.update(int(t) - bar.n)

        paths = {"runtime": args.runtime_config, "device": args.device_config, "subject": args.subject_config}
        try:
            result = run_bench(scenario, controller, args.out / "work", device, subject, paths, progress)
        except RuntimeExited as exc:
            bar.close()
            if exc.refused_code == ExitCode.USAGE:  # a bad bundle, baseline or config given to the bench
                raise UserError(f"{exc}; its output: {args.out / 'work' / 'runtime_output.txt'}") from exc
            print(f"FAIL: {exc}; its output: {args.out / 'work' / 'runtime_output.txt'}", flush=True)
            return ExitCode.CHECK_FAILED
        except KeyboardInterrupt:
            bar.close()
            print(f"bench stopped early: the runtime faded out and exited; its log is in {args.out / 'work'}")
            raise
    ids = device.imu_ids()
    loop_rate_hz = load_config(args.runtime_config, RuntimeConfig).loop_rate_hz
    figures = analyse(result, (ids["thigh_r"], ids["thigh_l"]), loop_rate_hz, subject.body_mass_kg)
    if scenario.source.kind == "walker":
        figures["closed_loop"] = closed_loop_references(args, scenario, result, device, subject)
    report = write_report(result, figures, args.out, title)
    if args.json:
        write_json_output(args.json, figures_json(figures))
    for f in figures["faults"]:
        print(f"{'pass' if f['passed'] else 'FAIL'}  {f['type']:<14} {f['expectation']}: {f['detail']}")
    for e in figures["runtime_faults"]:
        if failing(e):
            print(f"{'note' if scenario.allow_unscheduled_faults else 'FAIL'}  unscheduled fault at {e['text']}")
        elif e["scheduled"] is None:
            print(f"note  fault at {e['text']}: {describe_cause(e)}")
    rt = figures["round_trip_ms"]
    print(
        f"round trip IMU frame → command: p50 {rt.get('p50', float('nan')):.2f} ms, p99 {rt.get('p99', float('nan')):.2f} ms"
    )
    if "closed_loop" in figures:
        print(closed_loop_summary(figures["closed_loop"]))
    print(f"report: {report}  ({'PASS' if figures['all_passed'] else 'FAIL'})")
    return ExitCode.OK if figures["all_passed"] else ExitCode.CHECK_FAILED


def closed_loop_references(args: argparse.Namespace, scenario, result, device, subject) -> dict:
    """The same walker without the serial link: the student in-process, and the exo off; then the figures."""
    from tqdm import tqdm

    from analysis.trace import TorqueTrace
    from firmware_bridge.config import RuntimeConfig, load_config
    from firmware_bridge.signing import Trust
    from firmware_bridge.trial.reader import read_trial
    from hil.bench import make_source
    from hil.closed_loop import closed_loop_figures, simulate_device

    runtime = load_config(args.runtime_config, RuntimeConfig)
    trust = Trust.from_file(args.trusted_keys or runtime.trusted_keys_file, args.allow_unsigned)
    runs = {}
    for name, bundle in (("simulation", args.bundle), ("exo_off", None)):
        source = make_source(scenario, device, subject)
        with tqdm(total=round(scenario.duration_s), desc=f"walker, {name.replace('_', ' ')}", unit="s") as bar:
            trace = simulate_device(
                source, bundle, trust, runtime, device, subject, progress=lambda t: bar.update(int(t) - bar.n)
            )
        runs[name] = (trace, source.record)
    runs["simulation"][0].save_npz(args.out / "simulated_run.npz")  # for 'hipexo trial report --compare'
    bench_trace = TorqueTrace.from_trial(read_trial(result.trial_path))
    walker = result.source
    return {
        **closed_loop_figures(bench_trace, walker.record, *runs["simulation"], runs["exo_off"][1]),
        "walker": {
            "teacher": str(scenario.source.path),
            "teacher_steps": walker.teacher.total_steps,
            "teacher_stage": walker.teacher.stage,
            "root_support_fraction": walker.support_fraction,
            **walker.conditions,
        },
    }
