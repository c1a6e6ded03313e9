"""``hipexo trial inspect | export | list``: read trial logs (MCAP)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("trial", help="inspect, export and list trial logs")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    inspect = sub.add_parser("inspect", help="summary: duration, cycles, overruns, faults, torque range")
    inspect.add_argument("file", type=Path)
    inspect.set_defaults(func=run_inspect)
    export = sub.add_parser("export", help="write one CSV per channel")
    export.add_argument("file", type=Path)
    export.add_argument("--csv", type=Path, required=True, metavar="DIR")
    export.set_defaults(func=run_export)
    listing = sub.add_parser("list", help="catalogue the trial logs under a folder")
    listing.add_argument("folder", type=Path)
    listing.set_defaults(func=run_list)


def _read(path: Path):
    from firmware_bridge.trial.reader import TrialLogError, read_trial
    from tools.errors import UserError

    try:
        return read_trial(path)
    except TrialLogError as exc:
        raise UserError(str(exc)) from exc


def run_inspect(args: argparse.Namespace) -> int:
    from firmware_bridge.trial.summary import format_summary, summarise

    print(format_summary(summarise(_read(args.file))))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from firmware_bridge.trial.summary import export_csv

    for path in export_csv(_read(args.file), args.csv):
        print(path)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from firmware_bridge.trial.summary import catalogue

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
