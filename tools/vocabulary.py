"""One flag vocabulary for every ``hipexo`` command (README "Flag vocabulary"), kept in code here.

- ``--help`` shows each option's default: :class:`DefaultsInHelp`, applied to the whole parser tree once
  (:func:`show_defaults`, called by ``tools.cli.build_parser``).
- A renamed flag keeps working as a hidden alias that warns with the new name (:func:`add_renamed`): scripts
  and other branches that still spell the old flag go on working while they move over.
- ``--json PATH`` always takes a path; ``-`` is stdout (:func:`json_target`, :func:`write_json_output`).
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

from firmware_bridge.config.paths import REPO_ROOT

STDOUT = "-"


def every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every sub-command parser under it, each once."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from every_parser(sub)


def meaningful_default(action: argparse.Action) -> bool:
    """A default worth showing: a value an option takes when not given (not a flag's False, not 'nothing')."""
    nothing = action.default is None or action.default is argparse.SUPPRESS or action.default in ([], ())
    return bool(action.option_strings) and action.nargs != 0 and action.help is not argparse.SUPPRESS and not nothing


def describe_default(value: object) -> str:
    """A default as a user would type it: paths in the repository relative to it, lists space-separated."""
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(REPO_ROOT):
        return str(value.relative_to(REPO_ROOT))
    if isinstance(value, list | tuple):
        return " ".join(describe_default(v) for v in value)
    return str(value)


def states_default(help_text: str) -> bool:
    """The help already says what the default is (the word, not a file named default.yaml)."""
    return re.search(r"(?<![/\w])default(?![.\w])", help_text, re.IGNORECASE) is not None


class DefaultsInHelp(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already says what the default is.

    Values are named by what they are (``--out DIR``, a path ``PATH``), and lines do not break paths at hyphens.
    """

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        if action.dest == "out":
            return "DIR"
        return "PATH" if action.type is Path else super()._get_default_metavar_for_optional(action)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not meaningful_default(action) or states_default(text):
            return action.help
        shown = describe_default(action.default).replace("%", "%%")  # help strings are %-formatted
        return f"{text} (default: {shown})".lstrip()


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every parser in the tree formats its help with :class:`DefaultsInHelp`."""
    for each in every_parser(parser):
        each.formatter_class = DefaultsInHelp


class RenamedFlag(argparse.Action):
    """A retired spelling of a flag: stores into the new flag's dest and warns on stderr, naming the new flag."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str, **kwargs) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"hipexo: warning: {option_string} is deprecated: use {self.new}", file=sys.stderr, flush=True)
        setattr(namespace, self.dest, values)


def add_renamed(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, new: str, old: Sequence[str], **kwargs
) -> argparse.Action:
    """``parser.add_argument(new, **kwargs)``, with each ``old`` spelling accepted as a hidden, warning alias.

    The flag and its aliases form one mutually exclusive group, so a required flag is satisfied by an alias too.
    """
    group = parser.add_mutually_exclusive_group(required=kwargs.pop("required", False))
    action = group.add_argument(new, **kwargs)
    for name in old:
        group.add_argument(
            name,
            action=RenamedFlag,
            new=new,
            dest=action.dest,
            type=action.type,
            nargs=action.nargs,
            const=action.const,
            metavar=action.metavar,
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )
    return action


def add_duration(parser: argparse.ArgumentParser, default: float, what: str) -> argparse.Action:
    """``--duration SECONDS`` for a length of time (it was ``--seconds`` on these commands)."""
    return add_renamed(parser, "--duration", ["--seconds"], type=float, default=default, metavar="SECONDS", help=what)


def json_target(text: str) -> Path | str:
    """``--json``'s value: a file path, or ``-`` for stdout."""
    return STDOUT if text == STDOUT else Path(text)


def add_json_option(parser: argparse.ArgumentParser, what: str, **kwargs) -> argparse.Action:
    """``--json PATH``: where ``what`` goes as JSON (``-``: stdout)."""
    return parser.add_argument(
        "--json", type=json_target, metavar="PATH", default=None, help=f"{what} as JSON to PATH ('-': stdout)", **kwargs
    )


def write_json_output(target: Path | str, text: str) -> None:
    """``text`` to the ``--json`` target: the file (its folder made), or stdout for ``-``."""
    if target == STDOUT:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
