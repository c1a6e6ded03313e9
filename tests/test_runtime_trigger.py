"""The event-driven cycle end to end: a complete IMU sample starts a cycle at once, at most one per period,
and the period's deadline runs the cycle when no sample comes (real ``hipexo run``, real ptys).

Figures come from the runtime's own trial log (arrival times of frames, start and stage times of cycles),
so the assertions are about which cycle served which frame, with bounds a loaded machine meets.
"""

from __future__ import annotations

import time

import numpy as np
from device_bench import RuntimeUnderTest
from test_runtime import assist_then, faults, stop

from analysis.latency import arrival_to_command_ms
from firmware_bridge.runtime.safety import State
from firmware_bridge.runtime.timing import phase_error_ns

PERIOD_NS = 10_000_000
SLEW_NS = 100_000
"""configs/runtime/default.yaml phase_lock_slew_s."""


def assisting_cycles(run: RuntimeUnderTest) -> list[tuple[int, dict]]:
    return [(t, m) for t, m in run.log().messages["/timing"] if m["state"] == int(State.ASSISTING)]


def test_a_frame_arriving_mid_period_gets_its_command_at_once(bench):
    # 97 Hz against the 100 Hz loop, no phase lock: frames land at every point of the period in turn, so a
    # loop acting only on deadlines answers in ~5 ms at the median; the event-driven one in its cycle's work
    run = bench(runtime={"phase_lock": False}, imu_rate_hz=97.0)
    assist_then(run)
    time.sleep(2.0)
    assert stop(run) == 0
    latency = arrival_to_command_ms(run.log(), int(State.ASSISTING))
    assert len(latency) > 100
    assert np.median(latency) < 2.0, f"median arrival → command {np.median(latency):.2f} ms"
    triggered = [m["triggered"] for _, m in assisting_cycles(run)]
    assert np.mean(triggered) > 0.8, "nearly every cycle started by its frame (97 of each 100 periods have one)"


def test_two_frames_in_one_period_still_one_command_per_period(bench):
    run = bench(imu_rate_hz=250.0)
    assist_then(run)
    time.sleep(1.5)
    assert stop(run) == 0
    starts = np.array([t for t, _ in run.log().messages["/timing"]])
    # cycle k starts in period k, (D[k-1], D[k]]: ten cycles in a row span more than eight whole periods,
    # less what the phase lock moved the deadlines meanwhile (0.1 ms a cycle at most)
    spans = starts[9:] - starts[:-9]
    assert spans.min() > 8 * PERIOD_NS - 10 * SLEW_NS, f"{spans.min() / 1e6:.2f} ms for ten cycles"
    assert len(run.log().messages["/imu/raw"]) > 2 * len(starts), "frames came faster than cycles"


def test_without_frames_the_deadline_runs_the_cycle_and_stale_data_faults(bench):
    run = bench()
    assist_then(run)
    time.sleep(0.3)
    run.paused = True
    run.wait_for(lambda: not run.commands()[-1][1].enabled, 2, "zero torque")
    time.sleep(0.3)
    assert stop(run) == 0
    assert any("IMU stale" in f for f in faults(run))
    log = run.log()
    last_frame = log.messages["/imu/raw"][-1][0]
    silent = [(t, m) for t, m in log.messages["/timing"] if t > last_frame + PERIOD_NS]
    assert len(silent) >= 25 and not any(m["triggered"] for _, m in silent), "deadline cycles, none triggered"
    gaps = np.diff([t for t, _ in silent])
    assert abs(np.median(gaps) - PERIOD_NS) < 200_000, "a cycle every period"


def test_phase_error_pulls_a_sample_that_waited_for_the_window_into_it():
    # triggered loop, target half a period before the deadline
    assert phase_error_ns(PERIOD_NS // 2, PERIOD_NS // 2, PERIOD_NS, triggered_loop=True) == 0
    assert phase_error_ns(3_000_000, PERIOD_NS // 2, PERIOD_NS, triggered_loop=True) == -2_000_000  # later
    # arrived 2 ms before the window opened and waited for it: the deadlines must move earlier, not stay put
    assert phase_error_ns(12_000_000, PERIOD_NS // 2, PERIOD_NS, triggered_loop=True) == 7_000_000
    assert phase_error_ns(25_000_000, PERIOD_NS // 2, PERIOD_NS, triggered_loop=True) is None  # too old
    # deadline-driven loop: the cycle start a delay after the sample, the nearest way round
    assert phase_error_ns(9_500_000, 500_000, PERIOD_NS, triggered_loop=False) == -1_000_000
    assert phase_error_ns(12_000_000, 500_000, PERIOD_NS, triggered_loop=False) is None


def test_a_stream_at_the_loop_rate_is_served_within_its_period_whatever_its_phase(bench):
    # 100 Hz frames into the 100 Hz loop: with the phase lock the deadlines settle half a period after the
    # frames, so no frame waits for its window, from whichever phase the stream started at
    run = bench(imu_rate_hz=100.0)
    assist_then(run)
    time.sleep(2.5)
    assert stop(run) == 0
    latency = arrival_to_command_ms(run.log(), int(State.ASSISTING))
    settled = latency[len(latency) // 2 :]
    assert len(settled) > 50
    assert np.median(settled) < 2.0, f"median arrival → command {np.median(settled):.2f} ms once settled"
