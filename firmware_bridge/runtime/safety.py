"""The safety state machine and the checks that drive it.

    START ──window full, IMUs fresh──► ARMED (soft start) ──gain at 1──► ASSISTING
      ▲                                   │                                │
      └──────── condition cleared ◄── FAULT ◄─────── any check trips ──────┘
    stop requested (signal, end of run) ──► FADING ──output at 0──► STOPPED

Each check is a small function of one cycle's :class:`CycleInputs` that returns a reason string when it
trips. A fault zeroes torque *at once* (no fade: zero is the safe state) and is logged with its reason;
the runtime re-arms through a fresh soft start only once the checks pass again and the feature window
has refilled with clean data (the loop clears it in every cycle that has a problem). A fault while
fading ends the run at zero torque.

Before the first arming, problems are waiting, not faults (torque is zero already), except a link
problem (a silent IMU port, a serial error): a device that never hears its IMUs is faulted and says so.
How faults are counted is :mod:`firmware_bridge.trial.faults` (one episode from onset to recovery).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from firmware_bridge.config import WatchdogConfig


class State(IntEnum):
    START = 0
    ARMED = 1
    ASSISTING = 2
    FADING = 3
    FAULT = 4
    STOPPED = 5


@dataclass
class CycleInputs:
    """What the checks look at, filled by the loop every cycle."""

    now_s: float
    imu_silent_s: float = 0.0
    """Time since the last IMU frame of any kind arrived (or since the loop started)."""
    imu_max_age_s: float = math.inf
    missing_imus: tuple[int, ...] = ()
    frozen_imus: tuple[int, ...] = ()
    input_nonfinite: bool = False
    bad_frame_times: deque[float] = field(default_factory=deque)
    command: tuple[float, float] | None = None
    serial_error: str | None = None
    overrun_streak: int = 0
    controller_estop: bool = False
    controller_fault_bits: int = 0
    controller_fault_text: str | None = None


Check = Callable[[CycleInputs, WatchdogConfig], "str | None"]


def imu_stale(c: CycleInputs, w: WatchdogConfig) -> str | None:
    if c.missing_imus:
        return f"IMU data missing from ids {list(c.missing_imus)}"
    if c.imu_max_age_s > w.imu_stale_s:
        return f"IMU stale: newest sample {c.imu_max_age_s * 1e3:.1f} ms old (limit {w.imu_stale_s * 1e3:.0f} ms)"
    return None


def imu_link_silent(c: CycleInputs, w: WatchdogConfig) -> str | None:
    if c.imu_silent_s > w.imu_silent_s:
        return f"no IMU frames for {c.imu_silent_s * 1e3:.0f} ms (limit {w.imu_silent_s * 1e3:.0f} ms)"
    return None


def imu_frozen(c: CycleInputs, w: WatchdogConfig) -> str | None:
    if c.frozen_imus:
        return f"IMU frozen: ids {list(c.frozen_imus)} repeat identical readings ({w.frozen_samples}+ samples)"
    return None


def bad_frame_burst(c: CycleInputs, w: WatchdogConfig) -> str | None:
    times = c.bad_frame_times
    while times and times[0] < c.now_s - w.bad_frame_window_s:
        times.popleft()
    if len(times) >= w.bad_frame_burst:
        return f"{len(times)} bad frames within {w.bad_frame_window_s * 1e3:.0f} ms"
    return None


def nonfinite_input(c: CycleInputs, w: WatchdogConfig) -> str | None:
    return "NaN/Inf in IMU input" if c.input_nonfinite else None


def bad_model_output(c: CycleInputs, w: WatchdogConfig) -> str | None:
    if c.command is None:
        return None
    right, left = c.command
    if not (math.isfinite(right) and math.isfinite(left)):
        return f"model output not finite ({right}, {left})"
    if abs(right) > w.model_output_limit or abs(left) > w.model_output_limit:
        return f"model output out of range ({right:.3g}, {left:.3g}; limit ±{w.model_output_limit:g})"
    return None


def serial_error(c: CycleInputs, w: WatchdogConfig) -> str | None:
    return f"serial error: {c.serial_error}" if c.serial_error else None


def overrun_streak(c: CycleInputs, w: WatchdogConfig) -> str | None:
    if c.overrun_streak >= w.overrun_streak:
        return f"{c.overrun_streak} overrunning cycles in a row"
    return None


def motor_controller(c: CycleInputs, w: WatchdogConfig) -> str | None:
    if c.controller_estop:
        return "e-stop reported by the motor controller"
    if c.controller_fault_bits:
        return f"motor controller fault 0x{c.controller_fault_bits:04x}" + (
            f" ({c.controller_fault_text})" if c.controller_fault_text else ""
        )
    return None


CHECKS: tuple[Check, ...] = (
    serial_error,
    motor_controller,
    imu_link_silent,
    imu_stale,
    imu_frozen,
    bad_frame_burst,
    nonfinite_input,
    bad_model_output,
    overrun_streak,
)

LINK_CHECKS = (serial_error, imu_link_silent)
"""Checks that are faults even before the first arming."""


@dataclass(frozen=True)
class Transition:
    before: State
    after: State
    reason: str
    fault: bool = False
    """A fault's onset or a further cause of one (logged as a 'fault' event)."""


class SafetyMachine:
    def __init__(self, watchdog: WatchdogConfig, checks: tuple[Check, ...] = CHECKS):
        self.watchdog = watchdog
        self.checks = checks
        self.state = State.START
        self.fault_check: Check | None = None
        self.problem: str | None = None

    def first_problem(self, inputs: CycleInputs) -> str | None:
        return self._first(inputs)[1]

    def _first(self, inputs: CycleInputs) -> tuple[Check | None, str | None]:
        for check in self.checks:
            reason = check(inputs, self.watchdog)
            if reason:
                return check, reason
        return None, None

    def update(
        self, inputs: CycleInputs, window_ready: bool, soft_start_done: bool, faded_out: bool, stop_requested: bool
    ) -> Transition | None:
        """Advance one cycle; returns the transition taken, if any. ``problem`` holds this cycle's finding.

        A fault is logged when it starts and again only when a different check takes over (the reason's
        figures change every cycle; the cause does not).
        """
        before = self.state
        if before == State.STOPPED:
            return None
        check, problem = self._first(inputs)
        self.problem = problem
        if before == State.FADING:
            if problem:
                return self._go(State.STOPPED, f"fault while fading: {problem}", fault=True)
            return self._go(State.STOPPED, "fade-out complete") if faded_out else None
        if stop_requested:
            if before in (State.ARMED, State.ASSISTING):
                return self._go(State.FADING, "stop requested: fading out")
            return self._go(State.STOPPED, "stop requested")
        if problem:
            if (
                before in (State.ARMED, State.ASSISTING)
                or (before == State.START and check in LINK_CHECKS)
                or (before == State.FAULT and check is not self.fault_check)
            ):
                self.fault_check = check
                return self._go(State.FAULT, problem, fault=True)
            return None
        if before in (State.START, State.FAULT) and window_ready:
            self.fault_check = None
            return self._go(State.ARMED, "inputs healthy: arming with soft start")
        if before == State.ARMED and soft_start_done:
            return self._go(State.ASSISTING, "soft start complete")
        return None

    def halt(self, reason: str) -> Transition:
        """Stop at once on a failure outside the checks (an internal error): zero torque, no fade."""
        return self._go(State.STOPPED, reason, fault=True)

    @property
    def torque_allowed(self) -> bool:
        return self.state in (State.ARMED, State.ASSISTING, State.FADING)

    def _go(self, state: State, reason: str, fault: bool = False) -> Transition:
        transition = Transition(self.state, state, reason, fault)
        self.state = state
        return transition
