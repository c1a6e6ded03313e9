"""Closed loop: the walker feels the device's torque; strides from the thigh gyro; the demo end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.gait import agreement, phase_profile, stride_config, strides
from firmware_bridge.config.paths import REPO_ROOT
from hil.walker_source import SimulatedWalkerSource


@settings(max_examples=25, deadline=None)
@given(stride_s=st.floats(0.8, 1.6), offset=st.floats(0.0, 1.0))
def test_strides_from_a_periodic_thigh_gyro_have_its_period(stride_s, offset):
    t = np.arange(0.0, 20.0, 0.01)
    gyro = 2.0 * np.sin(2 * np.pi * (t + offset) / stride_s)  # above the swing threshold, one zero-crossing per stride
    found = strides(t, gyro, stride_config())
    assert len(found) >= int(20.0 / stride_s) - 3
    assert np.allclose([b - a for a, b in found], stride_s, atol=0.02)
    profile = phase_profile(t, np.sin(2 * np.pi * (t + offset) / stride_s), found)
    assert profile.strides == len(found) and agreement(profile, profile)[0] == pytest.approx(1.0)


def _hip_angles(smoke_run, device_config, subject_config, torque: float) -> np.ndarray:
    import dataclasses

    source = SimulatedWalkerSource(smoke_run, device_config, subject_config, 100.0, 1.0, root_support_fraction=1.0)
    # from the right heel strike exactly, as the walker started before seeds jittered the start
    still = dataclasses.replace(source.env.config, start_phase_jitter=0.0, start_velocity_noise_rad_s=0.0)
    source.env.set_sim_config(still)
    source._observation, _ = source.env.reset(seed=0, options={**source.conditions, "phase": 0.0})
    angles = []
    for k in range(20):  # 0.2 s: the prior's balance resists, the walker still yields
        source.apply_torque(torque, -torque)
        source.sample(k)
        angles.append(source.env.backend.body_state().joint_angles[[1, 4]])
    assert source.record.torque_nm[-1] == pytest.approx([torque, -torque])
    return np.array(angles)


def test_the_walker_moves_under_the_torque_the_device_applies(smoke_run, device_config, subject_config):
    free = _hip_angles(smoke_run, device_config, subject_config, 0.0)
    pushed = _hip_angles(smoke_run, device_config, subject_config, 30.0)
    assert pushed[-1, 0] - free[-1, 0] > 0.02  # right hip flexed further
    assert pushed[-1, 1] - free[-1, 1] < -0.01  # left hip extended further (in stance: balance takes part of it)


def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "tools.cli", "demo", "--duration", "8", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads((out / "bench" / "figures.json").read_text())
    closed = figures["closed_loop"]
    assert closed["walker"]["teacher_steps"] > 0 and closed["falls"]["episodes_bench"] >= 1
    assert np.isfinite(closed["metabolic_bench"]["w_per_kg"]) and figures["round_trip_ms"]["count"] > 500
    assert "signed by demo-signer" in (out / "bench" / "work" / "runtime_output.txt").read_text() or any(
        "demo-signer" in line for line in result.stdout.splitlines()
    )
    report = (out / "trial_report" / "trial_report.md").read_text()
    assert "Compared with" in report and (out / "trial_report" / "torque_over_gait_cycle.png").exists()
    assert (out / "bench" / "closed_loop_torque.png").read_bytes()[:4] == b"\x89PNG"


def test_walker_episodes_take_consecutive_seeds_and_pair_with_the_exo_off_run(smoke_run, device_config, subject_config):
    from hil.closed_loop import paired_reduction
    from hil.walker_source import EpisodeOutcome, WalkerRecord

    def run() -> WalkerRecord:
        source = SimulatedWalkerSource(smoke_run, device_config, subject_config, 100.0, 2.5, seed=7, episode_s=0.6)
        k = 0
        while source.sample(k) is not None:
            k += 1
        return source.record

    first, again = run(), run()
    assert [e.seed for e in first.finished] == list(range(7, 7 + len(first.finished))) and len(first.finished) >= 4
    assert first.finished == again.finished  # the same seed walks the same episode
    assert paired_reduction(first, again)["reduction_pct"] == 0.0
    off = WalkerRecord(
        finished=[EpisodeOutcome(1, False, 10.0), EpisodeOutcome(2, False, 8.0), EpisodeOutcome(3, True, 9.0)]
    )
    on = WalkerRecord(
        finished=[EpisodeOutcome(1, False, 9.0), EpisodeOutcome(2, False, 7.6), EpisodeOutcome(3, False, 1.0)]
    )
    paired = paired_reduction(on, off)
    assert paired["pairs"] == 2 and paired["reduction_pct"] == pytest.approx(7.5)  # seed 3 fell without the exo
    assert paired["reduction_se_pct"] == pytest.approx(2.5)
