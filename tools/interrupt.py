"""Stop signals at the command line: SIGINT (Ctrl-C) and SIGTERM (``systemctl stop``, ``timeout``) end any
command the same way, by raising :class:`Interrupted` in the main thread, so ``finally`` blocks stop what the
command started (a runtime fades out, workers are ended) and the command exits ``128 + signal``.

The handlers are installed even over an inherited ``SIG_IGN``: a command started in the background of a
script ignores SIGINT by default, and a bench that ignores Ctrl-C keeps a runtime commanding torque.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise :class:`Interrupted`; the previous handlers come back after."""
    previous = {s: signal.signal(s, _raise) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
