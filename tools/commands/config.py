"""``hipexo config validate|show``: check YAML configs against their schemas, and against each other.

Each device config is also checked with the runtime configs given (or the default runtime config), as
``hipexo run`` pairs them: what the runtime would refuse, validation refuses. Exit 1 when any is invalid.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import yaml

import distill.config  # noqa: F401  (registers kind: distill)
import firmware_bridge.baseline  # noqa: F401  (registers kind: baseline)
import hil.scenario  # noqa: F401  (registers kind: bench)
import recordings  # noqa: F401  (registers kind: recording)
import teacher.config  # noqa: F401  (registers kind: sim)
import teacher.training.config  # noqa: F401  (registers kind: teacher)
from firmware_bridge.config import (
    ConfigError,
    DeviceConfig,
    RuntimeConfig,
    check_pair,
    kind_of,
    known_kinds,
    load_config,
)
from firmware_bridge.config.paths import default_config
from tools.errors import ExitCode, UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="validate and inspect configuration files")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    validate = sub.add_parser("validate", help="check config files (or every *.yaml under a folder)")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a config file or a folder of them")
    validate.set_defaults(func=run_validate)
    show = sub.add_parser("show", help="print a config with every default filled in")
    show.add_argument("path", type=Path, help="a config file")
    show.set_defaults(func=run_show)


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.yaml")) if path.is_dir() else [path])
    return files


def run_validate(args: argparse.Namespace) -> int:
    files = _expand(args.paths)
    if not files:
        raise UserError(f"no *.yaml files found in {' '.join(map(str, args.paths))}")
    invalid: set[Path] = set()
    loaded: dict[Path, object] = {}
    for path in files:
        try:
            loaded[path] = load_config(path)
        except ConfigError as exc:
            invalid.add(path)
            print(f"INVALID {exc}", file=sys.stderr)
    for path, problem in _pairing_problems(loaded):
        invalid.add(path)
        print(f"INVALID {problem}", file=sys.stderr)
    for path in files:
        if path not in invalid:
            print(f"ok      {path} ({type(loaded[path]).__name__})")
    if invalid:
        print(f"{len(invalid)} of {len(files)} config file(s) invalid; known kinds: {known_kinds()}", file=sys.stderr)
        return ExitCode.CHECK_FAILED
    return ExitCode.OK


def _pairing_problems(loaded: dict[Path, object]) -> list[tuple[Path, ConfigError]]:
    """Each device config with each runtime config given; without one of them, the default stands in."""
    runtimes = {p: c for p, c in loaded.items() if isinstance(c, RuntimeConfig)}
    devices = {p: c for p, c in loaded.items() if isinstance(c, DeviceConfig)}
    if not devices and not runtimes:
        return []
    if not runtimes:
        path = default_config("runtime")
        runtimes = {path: load_config(path, RuntimeConfig)}
    if not devices:
        path = default_config("device", "hip_exo")
        devices = {path: load_config(path, DeviceConfig)}
    problems = []
    for device_path, device in devices.items():
        for runtime_path, runtime in runtimes.items():
            try:
                check_pair(runtime, str(runtime_path), device, str(device_path))
            except ConfigError as exc:
                blamed = device_path if device_path in loaded else runtime_path
                problems.append((blamed, exc))
    return problems


def run_show(args: argparse.Namespace) -> int:
    config = load_config(args.path)
    yaml.safe_dump({"kind": kind_of(config), **dataclasses.asdict(config)}, sys.stdout, sort_keys=False)
    return 0
