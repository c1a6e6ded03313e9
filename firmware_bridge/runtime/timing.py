"""Loop timing: absolute deadlines on the monotonic clock, sleep then a short spin, missed periods skipped.

``DeadlineClock.wait()`` returns when the next cycle is due. Each period ends in an absolute *deadline*:
the latest moment its cycle may start. Given a trigger (the loop's: a complete IMU sample has arrived),
the cycle starts as soon as the trigger fires instead, but never before the previous deadline has
passed, so there is at most one cycle per period; with no trigger it starts at the deadline, exactly as
a purely periodic loop would. If the loop fell behind by one or more whole periods, those periods are
skipped (never run back to back to catch up) and counted. An *overrun* is a cycle whose work ran past
the deadline of the next period (the next cycle could not start in time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

STAGES = ("read", "features", "infer", "shape", "write", "log")


def phase_error_ns(age_ns: int, target_ns: int, period_ns: int, *, triggered_loop: bool) -> int | None:
    """How much earlier the deadlines should move so the newest IMU sample lands ``target_ns`` before its
    reference point (positive: earlier); None when the sample is too old to lock to.

    With the trigger (called only for cycles a fresh sample started), ``age_ns`` is the deadline minus the
    sample's arrival. A sample that arrived inside the window is at most a period old; one that arrived before
    the window opened waited for it and is one to two periods old. Both are locked to, so a stream whose samples land just before the window opens is pulled
    into it instead of waiting up to a period in every cycle. Without the trigger, ``age_ns`` is the cycle
    start minus the arrival, taken the nearest way round the cycle.
    """
    if triggered_loop:
        return age_ns - target_ns if -period_ns <= age_ns <= 2 * period_ns else None
    if abs(age_ns) > period_ns:
        return None
    return (age_ns - target_ns + period_ns // 2) % period_ns - period_ns // 2


@dataclass
class CycleTiming:
    """Per-cycle figures the loop logs; times in nanoseconds on ``time.monotonic_ns``."""

    deadline_ns: int = 0
    """The period's deadline: the latest this cycle may start."""
    due_ns: int = 0
    """When the cycle was due: the trigger's time for a triggered cycle, else the deadline."""
    start_ns: int = 0
    skipped: int = 0
    triggered: bool = False
    """Started by the trigger (a fresh IMU sample), not by the deadline."""
    stage_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))

    @property
    def lateness_ns(self) -> int:
        """How long after it was due the cycle started (its reaction time to a triggering sample)."""
        return self.start_ns - self.due_ns


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

    def wait(
        self,
        timing: CycleTiming,
        idle: Callable[[float], None] | None = None,
        trigger: Callable[[], int] | None = None,
    ) -> None:
        """Block until the next cycle is due; fill ``timing`` with deadline, due time, start and skips.

        ``idle(timeout_s)`` replaces plain sleeping when given: it may block up to ``timeout_s`` (the loop
        uses it to take in serial bytes the moment they arrive) and is called again until the spin phase.
        ``trigger()`` returns the time (ns) a cycle became due early, or 0: checked after every ``idle``.
        """
        now = time.monotonic_ns()
        deadline = self.next_deadline_ns
        skipped = 0
        if now - deadline >= self.period_ns:  # a whole period or more already missed: skip them
            skipped = (now - deadline) // self.period_ns
            self.index += skipped
            self.skipped_total += skipped
            deadline = self.next_deadline_ns
        opens = deadline - self.period_ns  # the previous deadline: one cycle per period
        due = 0
        while True:
            due = trigger() if trigger is not None else 0
            if due and now >= opens:
                break
            if now >= deadline:
                due = 0
                break
            wake = opens if due else deadline - self.spin_ns  # a trigger early in the period waits for it
            remaining = wake - now
            if remaining <= 0:
                if idle is not None:
                    idle(0.0)  # a non-blocking look at the port: frames arriving now get their true arrival time
            elif idle is None:
                time.sleep(remaining / 1e9)
            else:
                idle(remaining / 1e9)
            now = time.monotonic_ns()
        timing.deadline_ns = deadline
        timing.start_ns = time.monotonic_ns()
        timing.due_ns = max(due, opens) if due else deadline
        timing.triggered = bool(due)
        timing.skipped = skipped
        self.index += 1

    def shift(self, offset_ns: int) -> None:
        """Move all later deadlines by ``offset_ns`` (phase locking to the IMU stream)."""
        self.start_ns += offset_ns

    def end_cycle(self, timing: CycleTiming) -> bool:
        """Record whether this cycle's work ran past the next deadline; returns True on an overrun."""
        overrun = time.monotonic_ns() > timing.deadline_ns + self.period_ns
        if overrun:
            self.overruns += 1
            self.overrun_streak += 1
        else:
            self.overrun_streak = 0
        return overrun
