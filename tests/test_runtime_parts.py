"""Loop timing and the safety state machine in isolation (the end-to-end tests cover them over ptys)."""

from __future__ import annotations

import time

from firmware_bridge.config import WatchdogConfig
from firmware_bridge.runtime.safety import CycleInputs, SafetyMachine, State
from firmware_bridge.runtime.timing import CycleTiming, DeadlineClock


def test_missed_periods_are_skipped_not_burst():
    clock = DeadlineClock(rate_hz=100.0, spin_s=0.0005)
    timing = CycleTiming()
    clock.wait(timing)
    time.sleep(0.035)  # a 35 ms stall: three whole periods missed
    assert clock.end_cycle(timing)
    clock.wait(timing)
    assert timing.skipped >= 2 and clock.skipped_total == timing.skipped
    assert 0 <= timing.lateness_ns < clock.period_ns, "runs the current period's cycle, late by less than a period"
    late_deadline = timing.deadline_ns
    clock.wait(timing)
    # then back on the grid: the next period's deadline, waited for (not run at once to catch up), however late
    # the stall's end fell within its period on a loaded machine
    assert timing.deadline_ns == late_deadline + clock.period_ns and timing.skipped == 0
    assert time.monotonic_ns() >= timing.deadline_ns - clock.spin_ns
    assert not clock.end_cycle(timing) and clock.overrun_streak == 0 and clock.overruns == 1


def test_deadlines_are_absolute_so_lateness_does_not_accumulate():
    clock = DeadlineClock(rate_hz=200.0, spin_s=0.0005)
    timing = CycleTiming()
    clock.wait(timing)
    first = timing.deadline_ns
    for _ in range(20):
        clock.wait(timing)
        time.sleep(0.002)  # work
        clock.end_cycle(timing)
    # on the absolute grid: 20 periods on, plus any period skipped after a stall on a loaded machine
    assert timing.deadline_ns - first == (20 + clock.skipped_total) * clock.period_ns


def healthy(now: float = 0.0) -> CycleInputs:
    return CycleInputs(now_s=now, imu_max_age_s=0.005, command=(0.1, 0.1))


def step(machine, inputs, ready=True, soft_done=False, faded=False, stop=False):
    return machine.update(inputs, ready, soft_done, faded, stop)


def test_problems_before_arming_are_waiting_not_faults():
    machine = SafetyMachine(WatchdogConfig())
    assert step(machine, CycleInputs(now_s=0.0, missing_imus=(1,))) is None
    assert machine.state == State.START and machine.problem
    assert step(machine, healthy()).after == State.ARMED


def test_a_fault_is_logged_once_and_rearms_only_when_clean():
    machine = SafetyMachine(WatchdogConfig())
    step(machine, healthy())
    step(machine, healthy(), soft_done=True)
    assert machine.state == State.ASSISTING
    stale = CycleInputs(now_s=1.0, imu_max_age_s=0.2, command=(0.1, 0.1))
    onset = step(machine, stale)
    assert onset.after == State.FAULT and onset.fault
    assert step(machine, stale) is None, "the same problem is not logged again"
    assert step(machine, healthy(), ready=False) is None, "window not refilled yet"
    assert step(machine, healthy()).after == State.ARMED


def test_stop_fades_from_assisting_and_a_fault_while_fading_ends_at_once():
    machine = SafetyMachine(WatchdogConfig())
    step(machine, healthy())
    assert step(machine, healthy(), stop=True).after == State.FADING
    assert step(machine, healthy(), stop=True) is None
    bad = CycleInputs(now_s=0.0, imu_max_age_s=0.005, command=(float("nan"), 0.0))
    transition = step(machine, bad, stop=True)
    assert transition.after == State.STOPPED and "fault while fading" in transition.reason
    waiting = SafetyMachine(WatchdogConfig())
    assert step(waiting, healthy(), ready=False, stop=True).after == State.STOPPED


def test_bad_frame_burst_counts_only_inside_the_window():
    machine = SafetyMachine(WatchdogConfig(bad_frame_burst=3, bad_frame_window_s=0.1))
    inputs = healthy(now=1.0)
    inputs.bad_frame_times.extend([0.5, 0.6, 0.95, 0.97])
    assert machine.first_problem(inputs) is None and list(inputs.bad_frame_times) == [0.95, 0.97]
    inputs.bad_frame_times.append(0.99)
    assert "3 bad frames" in machine.first_problem(inputs)


def test_a_silent_link_is_a_fault_even_before_arming_and_one_cause_is_logged_once():
    machine = SafetyMachine(WatchdogConfig(imu_silent_s=0.5))
    assert step(machine, CycleInputs(now_s=0.4, imu_silent_s=0.4, missing_imus=(0,))) is None, "waiting"
    onset = step(machine, CycleInputs(now_s=0.6, imu_silent_s=0.6, missing_imus=(0,)))
    assert onset.after == State.FAULT and onset.fault and "no IMU frames for 600 ms" in onset.reason
    assert step(machine, CycleInputs(now_s=0.7, imu_silent_s=0.7, missing_imus=(0,))) is None, "same cause, new figure"
    stale = step(machine, CycleInputs(now_s=0.8, imu_max_age_s=0.05, missing_imus=()))
    assert stale.after == State.FAULT and stale.reason.startswith("IMU stale"), "a different cause joins the episode"


def test_fault_episodes_run_from_onset_to_recovery():
    from firmware_bridge.trial.faults import fault_episodes

    events = [
        (0, {"name": "state", "message": "inputs healthy", "state": "ARMED"}),
        (10, {"name": "fault", "message": "IMU stale", "state": "FAULT"}),
        (20, {"name": "fault", "message": "no IMU frames", "state": "FAULT"}),
        (30, {"name": "marker", "message": "m"}),
        (40, {"name": "state", "message": "inputs healthy", "state": "ARMED"}),
        (50, {"name": "fault", "message": "fault while fading: NaN", "state": "STOPPED"}),
        (60, {"name": "fault", "message": "e-stop", "state": "FAULT"}),
    ]
    first, second, third = fault_episodes(events)
    assert (first.onset_ns, first.end_ns, first.outcome, first.reasons) == (
        10,
        40,
        "recovered",
        ["IMU stale", "no IMU frames"],
    )
    assert (second.end_ns, second.outcome) == (50, "stopped")
    assert (third.end_ns, third.outcome) == (None, "open")
