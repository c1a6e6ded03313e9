"""How a run ends: stop signals to the runtime's whole process group, an exception in any stage, a silent
IMU port, a missing subject. Real ``hipexo run`` processes on real ptys, real signals, real MCAP files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from device_bench import FAST_DEVICE, RuntimeUnderTest, make_bundle
from mcap.reader import make_reader

from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.trial.faults import fault_episodes
from hil.pty_link import FramePeer, PtyPair

PERIOD_S = 0.01
FADE_S = FAST_DEVICE["fade_out_s"]
INJECT = str(Path(__file__).parent / "inject_fault.py")


def indexed(path: Path):
    """The MCAP summary (statistics, chunk index) as an indexed reader sees it; None without one."""
    with open(path, "rb") as f:
        return make_reader(f).get_summary()


def first_zero_after(run: RuntimeUnderTest, t: float) -> float:
    """When the emulated controller first received zero torque (both sides) after ``t``."""
    for when, command in run.commands():
        if when > t and command.right_nm == 0.0 and command.left_nm == 0.0:
            return when
    raise AssertionError("no zero-torque command after the trigger")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_to_the_whole_group_fades_out_and_the_log_records_it(bench, sig):
    run = bench()
    run.set_gyro_z(0.4, -0.2)
    run.wait_for(run.assisting, 10, "assistance")
    time.sleep(0.3)  # past the soft start
    t_signal = time.monotonic()
    run.signal_group(sig)  # Ctrl-C at a terminal; systemd's KillMode=control-group
    assert run.finish() == 0
    after = [c for t, c in run.commands() if t > t_signal]
    assert max(abs(c.right_nm) for c in after) > 0.0, "faded, not dropped"
    assert after[-1].right_nm == 0.0 and not after[-1].enabled
    assert first_zero_after(run, t_signal) - t_signal <= FADE_S + PERIOD_S + 0.02  # + pty and scheduling
    assert not run.group_alive(), "the logger child is not left behind"
    (path,) = run.trial_dir.glob("*.mcap")
    log = run.log()
    assert log.complete and indexed(path) is not None and indexed(path).chunk_indexes
    texts = [e["message"] for e in log.topic("/events")]
    assert f"stop requested: signal {signal.Signals(sig).name}" in texts
    assert "stop requested: fading out" in texts and "fade-out complete" in texts
    last = log.topic("/motor/command")[-1]
    assert last["right_nm"] == 0.0 and last["flags"] == 0, "the final zero is in the log"
    assert log.metadata["subject"]["subject_id"] == "S-test" and log.metadata["subject"]["body_mass_kg"] == "75"


@pytest.mark.parametrize("stage", ["read", "features", "infer", "shape", "write", "log"])
def test_an_exception_in_any_stage_zeroes_torque_logs_it_and_exits_3_within_a_second(bench, stage):
    run = bench(launcher=(INJECT,), env={"HIPEXO_TEST_FAULT_STAGE": stage})
    run.set_gyro_z(0.4, -0.2)
    run.wait_for(run.assisting, 10, "assistance")
    t_inject = time.monotonic()
    run.process.send_signal(signal.SIGUSR2)
    while run.process.poll() is None and time.monotonic() - t_inject < 5.0:
        time.sleep(0.005)
    exit_s = time.monotonic() - t_inject
    assert run.finish() == 3, run.output()
    assert exit_s < 1.0, f"exited {exit_s:.2f} s after the error"
    last = run.commands()[-1][1]
    assert last.right_nm == 0.0 and last.left_nm == 0.0 and not last.enabled
    assert first_zero_after(run, t_inject) - t_inject < 0.1
    log = run.log()
    assert log.complete
    errors = [e for e in log.topic("/events") if e["name"] == "fault" and "internal error" in e["message"]]
    assert len(errors) == 1 and f"in the {stage} stage" in errors[0]["message"]
    assert f"injected {stage} failure" in errors[0]["message"] and "Traceback" in errors[0]["traceback"]
    assert f"internal error in the {stage} stage" in run.output()
    assert not run.group_alive()


def test_a_silent_imu_port_is_a_fault_and_a_run_that_heard_nothing_exits_1(bench):
    run = bench(feed=False, duration=1.2, runtime={"realtime_priority": 0, "status_interval_s": 0.5})
    assert run.finish() == 1
    output = run.output()
    assert "no IMU frame arrived" in output and "1 faults" in output
    assert "[link] IMU 0 frames/s" in output
    episodes = fault_episodes(run.log().messages["/events"])
    assert len(episodes) == 1 and episodes[0].reasons[0].startswith("no IMU frames for")


def test_link_health_line_and_a_silence_mid_run_is_one_fault_episode(bench):
    run = bench(runtime={"realtime_priority": 0, "status_interval_s": 0.5})
    run.set_gyro_z(0.4, -0.2)
    run.wait_for(run.assisting, 10, "assistance")
    link_lines = lambda: [line for line in run.lines if "[link] IMU" in line]  # noqa: E731
    run.wait_for(lambda: len(link_lines()) >= 2, 3, "link-health lines")
    run.paused = True
    time.sleep(0.8)  # stale at 30 ms, then silent at 500 ms: one episode, two causes
    run.paused = False
    run.wait_for(lambda: run.assisting(7.0), 5, "re-armed")
    run.signal(signal.SIGTERM)
    assert run.finish() == 0
    line = link_lines()[1]  # the first also counts frames queued in the pty while the runtime started
    rate = float(line.split("IMU ")[1].split(" frames/s")[0])
    assert 80 <= rate <= 120 and "bad frames (0 CRC errors)" in line
    (episode,) = fault_episodes(run.log().messages["/events"])
    assert episode.outcome == "recovered"
    assert episode.reasons[0].startswith("IMU stale") and episode.reasons[1].startswith("no IMU frames for")
    assert "1 faults" in run.output() and "recovered: IMU stale" in run.output()


def hipexo_run(tmp_path: Path, bundle: Path, *args: str) -> tuple[subprocess.CompletedProcess, list]:
    pty = PtyPair()
    peer = FramePeer(pty.master)
    try:
        command = [sys.executable, "-m", "tools.cli", "run", "--bundle", str(bundle), "--imu-port", pty.device_path]
        command += ["--out", str(tmp_path / "trials"), *args]
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        time.sleep(0.05)
        return result, peer.poll()
    finally:
        pty.close()


def test_no_subject_is_refused_before_anything_is_sent(tmp_path, bundle):
    result, sent = hipexo_run(tmp_path, bundle, "--allow-unsigned")
    assert result.returncode == 2 and sent == [] and not (tmp_path / "trials").exists()
    assert "no subject: pass --subject-config" in result.stderr and "--dev-subject" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_development_subject_and_a_shaping_override_are_loud_and_logged(bench, tmp_path):
    other = make_bundle(tmp_path / "trained-elsewhere")  # trained with hip_exo.yaml's 1 s soft start
    run = bench(bundle=other, dev_subject=True, duration=0.5, extra_args=("--accept-shaping-mismatch",))
    assert run.finish() == 0
    output = run.output()
    assert "DEVELOPMENT SUBJECT 'sim-default' (75 kg)" in output
    assert "OVERRIDE --accept-shaping-mismatch: running despite shaping.soft_start_s: bundle 1.0" in output
    log = run.log()
    assert log.metadata["subject"]["development_subject"] == "true"
    warnings = [e["message"] for e in log.topic("/events") if e["name"] == "warning"]
    assert any("DEVELOPMENT SUBJECT" in w for w in warnings) and any("OVERRIDE" in w for w in warnings)


def test_a_shaping_mismatch_is_refused_with_both_values(bench, tmp_path):
    other = make_bundle(tmp_path / "trained-elsewhere")
    run = bench(bundle=other)
    assert run.finish() == 2
    output = run.output()
    assert "shaping.soft_start_s: bundle 1.0, device config 0.2" in output and "--accept-shaping-mismatch" in output
    assert run.commands() == []
