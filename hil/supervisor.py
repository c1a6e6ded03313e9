"""The runtime process a bench or demo starts, supervised so that it never outlives them unattended.

- It runs in its own session: a terminal's Ctrl-C reaches only the bench, which stops it in order.
- ``PR_SET_PDEATHSIG``: if the bench dies without cleaning up (SIGKILL, a crash), the kernel sends the runtime
  SIGTERM, which fades it out and closes its log, as a stop from the bench would.
- :meth:`Supervised.stop` is the safe stop: SIGTERM, then wait for its exit (while the caller keeps serving its
  links, so the fade-out is commanded and logged), SIGKILL to its process group only past a grace period.
- :meth:`Supervised.exit_reason` says how it ended, from its exit code and the last line it printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

_WITH_PARENT = """
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: kept across exec
if os.getppid() != int(sys.argv[1]):  # the parent died before that: nobody would stop us
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""
"""Sets the parent-death signal, then becomes the command (same pid). A launcher rather than ``preexec_fn``,
which is unsafe in a process with threads (a progress bar's monitor, a loaded executor)."""


def describe_exit(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


class Supervised:
    """A child process writing its output to ``output_path``."""

    def __init__(self, command: list[str], output_path: Path):
        self.output_path = output_path
        with open(output_path, "w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WITH_PARENT, str(os.getpid()), *command],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, grace_s: float, serve: Callable[[float], None] | None = None) -> int:
        """SIGTERM, then wait up to ``grace_s`` for the exit, calling ``serve(deadline)`` (which returns by then)
        meanwhile; past it, SIGKILL to the whole group. Returns the exit code.

        Stop signals to this process are held meanwhile (delivered after): a second Ctrl-C does not cut the
        runtime's fade-out short."""
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self.signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while self.process.poll() is None and time.monotonic() < deadline:
                if serve is not None:
                    serve(min(deadline, time.monotonic() + 0.01))
                else:
                    time.sleep(0.01)
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return self.process.wait()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def exit_reason(self) -> str:
        """``exit code N: <its last line of output>``."""
        lines = [line for line in self.output().splitlines() if line.strip()]
        return describe_exit(self.process.returncode) + (f": {lines[-1].strip()}" if lines else "")
