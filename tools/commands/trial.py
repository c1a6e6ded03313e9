"""``hipexo trial inspect | export | list | report | recover``: read trial logs (MCAP).

A damaged or cut-off part of a log is skipped with a warning on stderr (the rest is still read);
``recover`` writes a clean, indexed copy. Exit codes: 0 read (warnings or not), 2 not a readable trial log.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("trial", help="inspect, export and list trial logs")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    inspect = sub.add_parser("inspect", help="summary: duration, cycles, overruns, faults, torque range")
    inspect.add_argument("file", type=Path, help="trial log (.mcap)")
    inspect.set_defaults(func=run_inspect)
    export = sub.add_parser(
        "export", help="one table per trial (a row per cycle, named columns with units): CSV and Parquet"
    )
    export.add_argument("file", type=Path, help="trial log (.mcap)")
    export.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="where the tables go (default: the trial's folder)"
    )
    export.add_argument(
        "--format", choices=("csv", "parquet", "both"), default="both", help="Parquet needs the 'analysis' extra"
    )
    export.set_defaults(func=run_export)
    listing = sub.add_parser("list", help="catalogue the trial logs under a folder")
    listing.add_argument("folder", type=Path, help="searched recursively for trial logs")
    listing.set_defaults(func=run_list)
    report = sub.add_parser("report", help="gait cycles, torque vs gait phase per side, timing, faults; Markdown + PNG")
    report.add_argument("file", type=Path, help="trial log (.mcap)")
    report.add_argument(
        "--compare", type=Path, default=None, help="another trial (.mcap) or a simulated run (.npz from the bench)"
    )
    report.add_argument("--out", type=Path, default=None, help="report folder (default: next to the trial)")
    report.set_defaults(func=run_report)
    rescue = sub.add_parser("recover", help="write a clean, indexed copy of a cut-short or damaged trial log")
    rescue.add_argument("file", type=Path, help="trial log (.mcap)")
    rescue.add_argument("--out", type=Path, default=None, help="(default: FILE with .recovered.mcap)")
    rescue.set_defaults(func=run_recover)


def _read(path: Path):
    """The log, with a warning on stderr for each part that had to be skipped."""
    from firmware_bridge.trial.reader import TrialLogError, read_trial
    from tools.errors import UserError

    try:
        log = read_trial(path)
    except TrialLogError as exc:
        raise UserError(str(exc)) from exc
    for problem in log.problems:
        print(
            f"hipexo: warning: {path}: {problem} ('hipexo trial recover {path}' writes a clean copy)", file=sys.stderr
        )
    return log


def run_recover(args: argparse.Namespace) -> int:
    from firmware_bridge.trial.recover import recover
    from tools.errors import UserError

    out = args.out or args.file.with_suffix(".recovered.mcap")
    if out.resolve() == args.file.resolve():
        raise UserError(f"--out {out}: would overwrite the log being recovered; choose another file")
    _read(args.file)  # a clear message for a file that is not a trial log; warnings for what is lost
    result = recover(args.file, out)
    print(f"recovered {result.messages} messages into {result.path} (indexed; {len(result.problems)} parts skipped)")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    from analysis.summary import format_summary, summarise

    print(format_summary(summarise(_read(args.file))))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from analysis.export import FORMATS, MATLAB, export_trial
    from tools.errors import UserError
    from tools.extras import extra_providing

    formats = FORMATS if args.format == "both" else (args.format,)
    log = _read(args.file)
    try:
        written = export_trial(log, args.out or args.file.parent, formats)
    except ModuleNotFoundError as exc:
        if exc.name != "pyarrow":
            raise
        extra = extra_providing("pyarrow") or "analysis"
        raise UserError(
            f"Parquet needs pyarrow: pip install 'hipexo[{extra}]' (or --format csv for the CSV table only)"
        ) from exc
    for path in written:
        print(path)
    csv_path = next((p for p in written if p.suffix == ".csv"), None)
    if csv_path:
        print("MATLAB: " + MATLAB.format(path=csv_path))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from analysis.summary import catalogue
    from tools.errors import UserError

    if not args.folder.is_dir():
        raise UserError(f"{args.folder}: no such folder")
    rows = catalogue(args.folder)
    if not rows:
        print(f"no trial logs under {args.folder}")
        return 0
    columns = ["file", "started", "subject", "condition", "duration_s", "cycles", "faults", "complete"]
    print("\t".join(columns))
    for row in rows:
        if "problem" in row:
            print(f"{row['file']}\tUNREADABLE: {row['problem']}")
        else:
            print("\t".join(str(row[c]) for c in columns))
    return 0


def run_report(args: argparse.Namespace) -> int:
    from analysis.trial_report import analyse_trial, leg_warning, write_trial_report
    from firmware_bridge.trial.reader import TrialLogError
    from tools.errors import UserError

    _read(args.file)  # a clear message for a file that is not a trial log; warnings for skipped parts
    try:
        figures = analyse_trial(args.file, args.compare)
    except (TrialLogError, OSError, KeyError, ValueError) as exc:
        raise UserError(f"cannot compare with {args.compare}: {exc}") from exc
    out = args.out or args.file.with_suffix("")
    path = write_trial_report(figures, out)
    for name, side in figures["sides"].items():
        print(
            f"{name}: {side['strides']} strides of {side['stride_s']:.2f} s; peak flexion "
            f"{side['peak_flexion_nm_per_kg']:.3f} N·m/kg @ {side['peak_flexion_pct']:.0f} %, extension "
            f"{side['peak_extension_nm_per_kg']:.3f} @ {side['peak_extension_pct']:.0f} %"
        )
    warning = leg_warning(figures)
    if warning:
        print(warning)
    if "comparison" in figures:
        c = figures["comparison"]
        print(
            "vs comparison: "
            + ", ".join(f"{n} r {c[n]['r']:.3f} RMSE {c[n]['rmse_nm_per_kg']:.4f}" for n in ("right", "left"))
        )
    print(f"report: {path}")
    return 0
