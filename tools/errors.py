"""Exit codes of every ``hipexo`` command, and the error the command line reports as one line.

0 success; 1 a check failed (bench FAIL, invalid config, a run that never heard its IMUs or lost its
log); 2 usage or input error (bad file, bad value: one line naming it, no traceback); 3 internal error
(a bug: the traceback is printed; on the device the torque was zeroed first).
"""

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
