"""The trial logger never blocks the loop: a stalled logger means counted drops, not a stalled cycle."""

from __future__ import annotations

import os
import signal
import time

from firmware_bridge.protocol.messages import ImuReading
from firmware_bridge.trial.reader import read_trial
from firmware_bridge.trial.records import CycleRecord
from firmware_bridge.trial.writer import TrialLogger

IMUS = {"pelvis": 0, "thigh_r": 1, "thigh_l": 2}
READINGS = tuple(ImuReading(i, (0.1, 0.2, 0.3), (0.0, 9.81, 0.0), 0) for i in range(3))


def record(cycle: int, frames: int = 1) -> CycleRecord:
    return CycleRecord(
        cycle=cycle,
        t_ns=cycle * 10_000_000,
        state=2,
        imu_frames=[(cycle * frames + k, 0, cycle * 10_000_000, READINGS) for k in range(frames)],
        command=(0.1, -0.1),
        shaped=(1.0, -1.0, False, False),
        sent=(cycle, 1.0, -1.0, 1),
        statuses=[],
        lateness_ns=1000,
        skipped=0,
        stage_ns=(1, 2, 3, 4, 5, 6),
        overrun=False,
        log_drops=0,
    )


def test_a_stalled_logger_costs_drops_not_time(tmp_path):
    """With the logger process stopped, its pipe fills and the loop's writes drop records instead of waiting: a
    blocking write would wait for the stopped reader for ever. Bounds are loose on purpose (a loaded 2-core machine
    preempts for milliseconds); the write path's cost is measured in benchmarks/runtime_loop.py."""
    logger = TrialLogger(tmp_path / "t.mcap", {"trial": {"subject_id": "x"}}, {}, 64, 0, IMUS)
    time.sleep(1.0)  # let the child start
    os.kill(logger._process.pid, signal.SIGSTOP)
    try:
        took = []
        for cycle in range(5000):
            start = time.perf_counter_ns()
            logger.cycle(record(cycle))
            took.append(time.perf_counter_ns() - start)
        assert logger.drops > 0
        assert sorted(took)[len(took) // 2] < 500_000, "the median write, pipe full, took more than 0.5 ms"
        assert max(took) < 50_000_000, f"a write took {max(took) / 1e6:.1f} ms"
    finally:
        os.kill(logger._process.pid, signal.SIGCONT)
    logger.close()
    log = read_trial(tmp_path / "t.mcap")
    assert log.complete and len(log.messages["/timing"]) == 5000 - logger.drops


def test_a_cycle_with_many_imu_frames_arrives_whole(tmp_path):
    logger = TrialLogger(tmp_path / "t.mcap", {}, {}, 64, 0, IMUS)
    logger.cycle(record(0, frames=30))  # a stall's worth of frames: bigger than one atomic pipe write
    logger.close()
    log = read_trial(tmp_path / "t.mcap")
    assert logger.drops == 0
    assert [m["seq"] for m in log.topic("/imu/raw")] == list(range(30))
    assert len(log.topic("/timing")) == 1
