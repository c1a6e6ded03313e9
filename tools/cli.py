"""The ``hipexo`` command line: one sub-command module per part of the pipeline.

Each module in :mod:`tools.commands` exposes ``register(subparsers)`` and sets ``func`` on its parsers.
``main`` is the front door: it makes every path argument absolute once (so commands, and the processes they
start, work from any directory), turns SIGINT/SIGTERM into an orderly stop (:mod:`tools.interrupt`), and maps
what ends a command to one line and an exit code (:class:`tools.errors.ExitCode`, README). Every parser shows its
defaults in ``--help``, and flags share one vocabulary (:mod:`tools.vocabulary`, README "Flag vocabulary").
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from firmware_bridge import __version__
from firmware_bridge.config import ConfigError
from recordings import RecordingError
from tools.commands import COMMAND_MODULES
from tools.errors import ExitCode, UserError
from tools.extras import extra_providing
from tools.interrupt import Interrupted, stop_signals_raise
from tools.vocabulary import show_defaults


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipexo",
        description="Sim-to-real deployment stack for a hip exoskeleton.",
    )
    parser.add_argument("--version", action="version", version=f"hipexo {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    show_defaults(parser)
    return parser


def absolute_paths(args: argparse.Namespace) -> None:
    """Every ``Path`` argument (or list of them) made absolute against the directory the command was run in."""
    for name, value in vars(args).items():
        if isinstance(value, Path):
            setattr(args, name, Path(os.path.abspath(value.expanduser())))
        elif isinstance(value, list) and value and all(isinstance(v, Path) for v in value):
            setattr(args, name, [Path(os.path.abspath(v.expanduser())) for v in value])


def say_error(text: str) -> None:
    print(f"hipexo: error: {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    absolute_paths(args)
    try:
        with stop_signals_raise():
            return int(args.func(args) or 0)
    except (ConfigError, UserError, RecordingError) as exc:
        say_error(str(exc))
        return ExitCode.USAGE
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(f"hipexo: interrupted ({signal.Signals(signum).name}): stopped", file=sys.stderr, flush=True)
        return 128 + signum
    except ModuleNotFoundError as exc:
        extra = extra_providing(exc.name or "")
        if extra is None:
            traceback.print_exc()
            say_error(f"internal error: {exc} (a bug: please report it with the traceback above)")
            return ExitCode.INTERNAL
        say_error(f"this command needs the '{extra}' extra ({exc.name} is missing): pip install 'hipexo[{extra}]'")
        return ExitCode.USAGE
    except Exception as exc:
        traceback.print_exc()
        say_error(f"internal error: {type(exc).__name__}: {exc} (a bug: please report it with the traceback above)")
        return ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
