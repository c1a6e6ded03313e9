"""Loop timing: absolute deadlines on the monotonic clock, sleep then a short spin, missed periods skipped.

``DeadlineClock.wait()`` returns when the next period starts. If the loop fell behind by one or more
whole periods, those periods are skipped (never run back to back to catch up) and counted. An
*overrun* is a cycle whose work ran past the start of the next period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

STAGES = ("read", "features", "infer", "shape", "write", "log")


@dataclass
class CycleTiming:
    """Per-cycle figures the loop logs; times in nanoseconds on ``time.monotonic_ns``."""

    deadline_ns: int = 0
    start_ns: int = 0
    skipped: int = 0
    stage_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))

    @property
    def lateness_ns(self) -> int:
        return self.start_ns - self.deadline_ns


class DeadlineClock:
    def __init__(self, rate_hz: float, spin_s: float):
        self.period_ns = round(1e9 / rate_hz)
        self.spin_ns = round(spin_s * 1e9)
        self.start_ns = time.monotonic_ns()
        self.index = 0
        self.skipped_total = 0
        self.overruns = 0
        self.overrun_streak = 0

    def restart(self) -> None:
        """Start counting periods from now (after start-up work, so it is not counted as skipped)."""
        self.start_ns = time.monotonic_ns()
        self.index = 0

    @property
    def next_deadline_ns(self) -> int:
        return self.start_ns + self.index * self.period_ns

    def wait(self, timing: CycleTiming, idle: Callable[[float], None] | None = None) -> None:
        """Sleep, then spin, until the next deadline; fill ``timing`` with deadline, start and skips.

        ``idle(timeout_s)`` replaces plain sleeping when given: it may block up to ``timeout_s`` (the loop
        uses it to take in serial bytes the moment they arrive) and is called again until the spin phase.
        """
        now = time.monotonic_ns()
        deadline = self.next_deadline_ns
        skipped = 0
        if now - deadline >= self.period_ns:  # a whole period or more already missed: skip them
            skipped = (now - deadline) // self.period_ns
            self.index += skipped
            self.skipped_total += skipped
            deadline = self.next_deadline_ns
        remaining = deadline - now - self.spin_ns
        while remaining > 0:
            if idle is None:
                time.sleep(remaining / 1e9)
                break
            idle(remaining / 1e9)
            remaining = deadline - time.monotonic_ns() - self.spin_ns
        while time.monotonic_ns() < deadline:
            if idle is not None:
                idle(0.0)  # a non-blocking look at the port: frames arriving now get their true arrival time
        timing.deadline_ns = deadline
        timing.start_ns = time.monotonic_ns()
        timing.skipped = skipped
        self.index += 1

    def shift(self, offset_ns: int) -> None:
        """Move all later deadlines by ``offset_ns`` (phase locking to the IMU stream)."""
        self.start_ns += offset_ns

    def end_cycle(self, timing: CycleTiming) -> bool:
        """Record whether this cycle's work ran into the next period; returns True on an overrun."""
        overrun = time.monotonic_ns() > timing.deadline_ns + self.period_ns
        if overrun:
            self.overruns += 1
            self.overrun_streak += 1
        else:
            self.overrun_streak = 0
        return overrun
