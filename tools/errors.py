"""Exit codes of every ``hipexo`` command, and the error the command line reports as one line.

0 success; 1 a check failed (bench FAIL, invalid config, a run that never heard its IMUs or lost its
log); 2 usage or input error (bad file, bad value: one line naming it, no traceback); 3 internal error
(a bug: the traceback is printed; on the device the torque was zeroed first).
"""

OK = 0
CHECK_FAILED = 1
USAGE = 2
INTERNAL = 3


class UserError(Exception):
    """A problem the user can fix (bad path, bad input)."""
