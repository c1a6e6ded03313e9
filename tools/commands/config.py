"""``hipexo config validate|show``: check YAML configs against their schemas."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import yaml

import distill.config  # noqa: F401  (registers kind: distill)
import firmware_bridge.baseline  # noqa: F401  (registers kind: baseline)
import hil.scenario  # noqa: F401  (registers kind: bench)
import teacher.config  # noqa: F401  (registers kind: sim)
import teacher.training.config  # noqa: F401  (registers kind: teacher)
from firmware_bridge.config import ConfigError, kind_of, known_kinds, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="validate and inspect configuration files")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    validate = sub.add_parser("validate", help="check config files (or every *.yaml under a folder)")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    validate.set_defaults(func=run_validate)
    show = sub.add_parser("show", help="print a config with every default filled in")
    show.add_argument("path", type=Path)
    show.set_defaults(func=run_show)


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.yaml")) if path.is_dir() else [path])
    return files


def run_validate(args: argparse.Namespace) -> int:
    files = _expand(args.paths)
    if not files:
        print("hipexo: error: no *.yaml files found", file=sys.stderr)
        return 2
    failures = 0
    for path in files:
        try:
            config = load_config(path)
        except ConfigError as exc:
            failures += 1
            print(f"INVALID {exc}", file=sys.stderr)
        else:
            print(f"ok      {path} ({type(config).__name__})")
    if failures:
        print(f"{failures} of {len(files)} config file(s) invalid; known kinds: {known_kinds()}", file=sys.stderr)
        return 1
    return 0


def run_show(args: argparse.Namespace) -> int:
    config = load_config(args.path)
    yaml.safe_dump({"kind": kind_of(config), **dataclasses.asdict(config)}, sys.stdout, sort_keys=False)
    return 0
