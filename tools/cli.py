"""The ``hipexo`` command line: one sub-command module per part of the pipeline.

Each module in :mod:`tools.commands` exposes ``register(subparsers)`` and sets ``func`` on its parsers;
``main`` dispatches and turns the project's user-facing errors into a one-paragraph message and exit
code 2 instead of a traceback; anything else is an internal error, exit code 3 (tools/errors.py).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from firmware_bridge import __version__
from firmware_bridge.config import ConfigError
from tools.commands import COMMAND_MODULES
from tools.errors import INTERNAL, USAGE, UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipexo",
        description="Sim-to-real deployment stack for a hip exoskeleton.",
    )
    parser.add_argument("--version", action="version", version=f"hipexo {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, UserError) as exc:
        print(f"hipexo: error: {exc}", file=sys.stderr)
        return USAGE
    except Exception as exc:  # noqa: BLE001  (a bug: say so, with the traceback, and exit 3)
        traceback.print_exc()
        print(f"hipexo: internal error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
