"""Errors the command line reports as one line instead of a traceback, and the exit codes it uses."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``hipexo`` exits with (README): a script or systemd can tell these apart."""

    OK = 0
    CHECK_FAILED = 1
    """A check ran and failed (bench FAIL, invalid config)."""
    USAGE = 2
    """Bad usage or input: a file, field or value the user can fix, a missing extra."""
    INTERNAL = 3
    """A bug: the traceback is printed for a report."""


class UserError(Exception):
    """A problem the user can fix (bad path, bad input)."""
