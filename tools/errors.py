"""Errors the command line reports as one paragraph (exit code 2) instead of a traceback."""


class UserError(Exception):
    """A problem the user can fix (bad path, bad input)."""
