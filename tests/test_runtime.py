"""The device runtime end to end: a real ``hipexo run`` process on real ptys, real signals.

Every safety trigger ends in a zero-torque command with the reason in the trial log.
"""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest
from device_bench import FAST_DEVICE, RuntimeUnderTest, make_bundle

from firmware_bridge.protocol.messages import ControllerFault, ControllerFlags, ControllerStatus, FaultReport, Heartbeat

STALE_LIMIT_S = 0.030


def faults(run: RuntimeUnderTest) -> list[str]:
    return [e["message"] for e in run.log().topic("/events") if e["name"] == "fault"]


def zero_after(run: RuntimeUnderTest, t: float) -> float:
    """Time from ``t`` to the first disabled zero-torque command after it."""
    for when, command in run.commands():
        if when > t and not command.enabled and command.right_nm == 0.0 and command.left_nm == 0.0:
            return when - t
    raise AssertionError("no zero-torque command after the trigger")


def assist_then(run: RuntimeUnderTest, right: float = 0.4, left: float = -0.2) -> None:
    run.set_gyro_z(right, left)
    run.wait_for(run.assisting, 10, "assistance")


def stop(run: RuntimeUnderTest, sig: int = signal.SIGTERM) -> int:
    run.signal(sig)
    return run.finish()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_fades_out_sends_zero_and_exits_zero(bench, sig):
    run = bench()
    assist_then(run)
    time.sleep(0.4)  # past the 0.2 s soft start: full assistance
    full = run.commands()[-1][1]
    assert full.right_nm == pytest.approx(0.4 * 0.25 * 75, rel=1e-3) and full.left_nm == pytest.approx(
        -0.2 * 0.25 * 75, rel=1e-3
    )
    t_signal = time.monotonic()
    assert stop(run, sig) == 0
    after = [(t, c) for t, c in run.commands() if t > t_signal]
    magnitudes = [abs(c.right_nm) for _, c in after]
    assert magnitudes[-1] == 0.0 and not after[-1][1].enabled
    assert max(magnitudes) > 0.0, "fades, not an instant drop"
    fade_time = next(t for t, c in after if c.right_nm == 0.0) - t_signal
    assert 0.1 < fade_time < 0.6, f"fade over ~0.2 s (device fade_out_s), took {fade_time:.3f} s"
    events = [e["message"] for e in run.log().topic("/events")]
    assert "stop requested: fading out" in events and "fade-out complete" in events


def test_heartbeat_every_cycle_and_the_loop_keeps_time(bench):
    run = bench(duration=1.5)
    assert run.finish() == 0
    frames = [f.message for _, f in run.motor.frames()]
    heartbeats = sum(isinstance(m, Heartbeat) for m in frames)
    log = run.log()
    times = np.array([t for t, _ in log.messages["/timing"]])
    assert heartbeats >= len(times) >= 150  # 1.5 s, then the fade-out
    assert np.median(np.diff(times)) == pytest.approx(10e6, rel=0.02), "100 Hz"
    assert log.complete


def test_stale_imu_zeroes_torque_within_the_limit_then_rearms_with_soft_start(bench):
    run = bench()
    assist_then(run)
    run.paused = True
    t_last = run.sent_imu[-1]
    run.wait_for(lambda: not run.commands()[-1][1].enabled, 2, "zero torque")
    assert zero_after(run, t_last) <= STALE_LIMIT_S + 0.025  # limit + one period + pty latency
    run.paused = False
    t_resume = time.monotonic()
    run.wait_for(lambda: run.assisting(7.0), 5, "full assistance again")
    ramp = [c.right_nm for t, c in run.commands() if t > t_resume and c.enabled]
    assert ramp[0] < 1.0 and ramp == sorted(ramp)[: len(ramp)] or ramp[0] < 1.0, "re-armed through soft start"
    assert stop(run) == 0
    assert any("IMU stale" in f for f in faults(run))
    states = [e.get("state") for e in run.log().topic("/events")]
    assert states.count("ARMED") >= 2


def test_burst_of_bad_frames_is_a_fault(bench):
    run = bench()
    assist_then(run)
    t = time.monotonic()
    for _ in range(8):
        run.imu.write_raw(b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\x00")  # delimited garbage: CRC/COBS errors
    run.wait_for(lambda: any(not c.enabled for w, c in run.commands() if w > t), 2, "zero torque")
    assert zero_after(run, t) < 0.05
    assert stop(run) == 0
    assert any("bad frames within" in f for f in faults(run))


def test_nan_in_imu_input_is_a_fault(bench):
    run = bench()
    assist_then(run)
    t = time.monotonic()
    run.set_gyro_z(float("nan"), 0.1)
    run.wait_for(lambda: any(not c.enabled for w, c in run.commands() if w > t), 2, "zero torque")
    assert zero_after(run, t) < 0.05
    assert stop(run) == 0
    assert any("NaN/Inf in IMU input" in f for f in faults(run))


def test_frozen_imu_is_a_fault(bench):
    run = bench()
    assist_then(run)
    t = time.monotonic()
    run.frozen = True  # fresh frames, bit-identical readings: a stuck sensor
    run.wait_for(lambda: any(not c.enabled for w, c in run.commands() if w > t), 2, "zero torque")
    assert 0.08 < zero_after(run, t) < 0.2, "after frozen_samples (10) identical samples at 100 Hz"
    assert stop(run) == 0
    assert any("IMU frozen" in f for f in faults(run))


def test_model_output_out_of_range_is_a_fault(bench):
    run = bench()
    assist_then(run)
    t = time.monotonic()
    run.set_gyro_z(1.6, 0.0)  # beyond model_output_limit 1.5
    run.wait_for(lambda: any(not c.enabled for w, c in run.commands() if w > t), 2, "zero torque")
    assert stop(run) == 0
    assert any("model output out of range" in f for f in faults(run))


def test_nan_model_output_is_a_fault(bench, tmp_path):
    run = bench(bundle=make_bundle(tmp_path / "sqrt", op="sqrt", device=FAST_DEVICE))
    assist_then(run, 0.64, 0.25)  # sqrt → 0.8, 0.5
    t = time.monotonic()
    run.set_gyro_z(-0.5, 0.25)  # sqrt of a negative: NaN out of a finite input
    run.wait_for(lambda: any(not c.enabled for w, c in run.commands() if w > t), 2, "zero torque")
    assert stop(run) == 0
    assert any("model output not finite" in f for f in faults(run))


def test_hard_clamp_holds_whatever_the_model_says(bench, tmp_path):
    device = {**FAST_DEVICE, "torque_limit_nm": 5.0}
    run = bench(device=device, bundle=make_bundle(tmp_path / "clamp", device=device))
    assist_then(run, 1.4, -1.4)
    time.sleep(0.5)
    assert stop(run) == 0
    torques = [abs(c.right_nm) for _, c in run.commands()] + [abs(c.left_nm) for _, c in run.commands()]
    assert max(torques) == pytest.approx(5.0)


def test_estop_and_controller_fault_zero_torque(bench):
    run = bench()
    assist_then(run)
    t = time.monotonic()
    run.motor.send(ControllerStatus(0, 0.0, 0.0, ControllerFault.NONE, ControllerFlags.ESTOP))
    run.wait_for(lambda: any(not c.enabled for w, c in run.commands() if w > t), 2, "zero torque on e-stop")
    assert zero_after(run, t) < 0.03
    run.motor.send(ControllerStatus(0, 0.0, 0.0, ControllerFault.NONE, ControllerFlags.ENABLED))
    run.wait_for(lambda: run.assisting(7.0), 5, "re-armed after the e-stop is released")
    t = time.monotonic()
    run.motor.send(FaultReport(7, "motor over temperature"))
    run.wait_for(lambda: any(not c.enabled for w, c in run.commands() if w > t), 2, "zero torque on a fault report")
    assert stop(run) == 0
    reasons = faults(run)
    assert any("e-stop" in f for f in reasons) and any("motor over temperature" in f for f in reasons)


def test_serial_disconnect_is_a_fault_and_the_runtime_still_exits_cleanly(bench):
    run = bench(two_ports=True)
    assist_then(run)
    run.paused = True
    run.imu_pty.close()  # the IMU adapter is unplugged: reads fail on the device side
    time.sleep(0.5)
    assert stop(run) == 0
    reasons = faults(run)
    assert any("serial error" in f or "IMU stale" in f for f in reasons)
    assert not run.commands()[-1][1].enabled


def test_overrun_streak_is_a_fault(bench, tmp_path):
    slow = make_bundle(
        tmp_path / "slow", rate_hz=500.0, window=10, slow=400, device=FAST_DEVICE
    )  # ~10 ms a cycle: over 2 ms
    run = bench(bundle=slow, runtime={"loop_rate_hz": 500.0}, imu_rate_hz=500.0)
    run.set_gyro_z(0.4, 0.0)
    run.wait_for(lambda: run.trial_dir.exists() and any(run.trial_dir.glob("*.mcap")), 10, "trial log")
    time.sleep(2.0)
    assert stop(run) == 0
    assert any("overrunning cycles in a row" in f for f in faults(run))


def test_sigkill_leaves_a_readable_log(bench):
    run = bench()
    assist_then(run)
    time.sleep(1.5)
    t_kill = time.time_ns()
    run.signal(signal.SIGKILL)  # the whole process group: runtime and its logger
    run.finish()
    log = run.log()
    times = [t for t, _ in log.messages["/timing"]]
    assert len(times) > 100
    assert t_kill - times[-1] < 1.0e9, "data up to about a second before the kill"


def test_markers_from_sigusr1_and_stdin_and_trial_metadata(bench, tmp_path):
    meta = tmp_path / "trial.yaml"
    meta.write_text("subject_id: S07\ncondition: exo-on\nspeed_m_s: 1.25\n")
    run = bench(
        subject={"subject_id": "S07"}, extra_args=("--trial-meta", str(meta), "--slope", "5", "--notes", "bench check")
    )
    assist_then(run)
    run.signal(signal.SIGUSR1)
    run.process.stdin.write("heel strike marker\n")
    run.process.stdin.flush()
    time.sleep(0.3)
    assert stop(run) == 0
    log = run.log()
    markers = [e["message"] for e in log.topic("/events") if e["name"] == "marker"]
    assert sorted(markers) == ["SIGUSR1", "heel strike marker"]  # a signal and a pipe: either may land first
    trial = log.metadata["trial"]
    assert trial["subject_id"] == "S07" and trial["condition"] == "exo-on" and trial["slope_deg"] == "5"
    assert trial["notes"] == "bench check" and trial["speed_m_s"] == "1.25"
    assert json.loads(log.metadata["bundle_manifest"]["json"])["features"]["window"] == 10
    assert "manifest.json" in log.attachments and "yaml" in log.metadata["config_device"]
