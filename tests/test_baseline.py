"""Baseline controller on real IMU recordings: gait phase at the recording's stride frequency, bounded torque."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.baseline import BaselineConfig, BaselineController, PhaseEstimator, hip_torque_nm_per_kg
from firmware_bridge.config import DeviceConfig, load_config
from firmware_bridge.config.paths import SHARED_DATA_DIR, default_config
from hil.sources import RecordingSource
from recordings import RecordingError

RECORDINGS = SHARED_DATA_DIR / "tum-ao-imu-walking"


@pytest.fixture(scope="module")
def baseline_config() -> BaselineConfig:
    return load_config(default_config("controller", "baseline"), BaselineConfig)


def run_baseline(source: RecordingSource, device: DeviceConfig, config: BaselineConfig):
    ids = device.imu_ids()
    controller = BaselineController(config, device.command_full_scale_nm_per_kg)
    commands, phases = [], []
    for i in range(source.samples):
        sample = source.sample(i)
        window = np.array([[[sample[ids["thigh_r"]][0][2], sample[ids["thigh_l"]][0][2]]]], dtype=np.float32)
        commands.append(controller.command(window, i / source.rate_hz))
        phases.append(controller.phases[0])
    return controller, np.array(commands), phases


@pytest.mark.parametrize(("walk", "stride_hz"), [("walk_4", 0.86), ("walk_5", 0.95)])
def test_phase_follows_the_recordings_stride_frequency(device_config, baseline_config, walk, stride_hz):
    source = RecordingSource(RECORDINGS / walk, device_config, loop=False)
    controller, commands, phases = run_baseline(source, device_config, baseline_config)
    for estimator in controller.sides:
        strides = np.diff(estimator.strike_times)
        assert 1.0 / np.median(strides) == pytest.approx(stride_hz, rel=0.03)
        assert len(strides) > 45
    valid = [p for p in phases if p is not None]
    assert len(valid) > 0.85 * len(phases)  # gating drops the odd stride; the phase is valid most of the time
    limit = max(baseline_config.extension.peak_nm_per_kg, baseline_config.flexion.peak_nm_per_kg)
    assert np.abs(commands).max() <= limit / device_config.command_full_scale_nm_per_kg + 1e-9
    # periodic: the command's spectrum peaks at the stride frequency
    spectrum = np.abs(np.fft.rfft(commands[:, 0] - commands[:, 0].mean()))
    freqs = np.fft.rfftfreq(len(commands), 1.0 / source.rate_hz)
    assert freqs[np.argmax(spectrum)] == pytest.approx(stride_hz, rel=0.05)


def test_profile_extends_in_early_stance_and_flexes_around_toe_off(baseline_config):
    torque = np.array([hip_torque_nm_per_kg(baseline_config, p / 100) for p in range(100)])
    assert np.argmin(torque) == 12 and torque.min() == pytest.approx(-0.10)
    assert np.argmax(torque) == 60 and torque.max() == pytest.approx(0.12)
    assert torque[0] == 0.0 and torque[35] == 0.0 and torque[90] == 0.0


def test_gating_rejects_odd_strides_and_a_pause_invalidates_the_phase(baseline_config):
    estimator = PhaseEstimator(baseline_config)
    t = 0.0
    for stride in (1.1, 1.1, 1.1, 2.5, 1.1):  # one long pause in the middle
        for k in range(int(stride * 100)):
            phase = k / (stride * 100)
            rate = 3.0 if 0.6 < phase < 0.95 else -1.0
            estimator.update(t, rate)
            t += 0.01
    assert all(0.6 <= s <= 2.0 for s in estimator.strides)
    assert estimator.update(t + 5.0, -1.0) is None, "long after the last strike the phase is stale"
    assert estimator.update(t, float("nan")) is None


def test_a_broken_recording_is_a_clear_error(tmp_path, device_config):
    with pytest.raises(RecordingError, match="missing Gyroscopes_left.txt.gz"):
        RecordingSource(tmp_path, device_config)
    (tmp_path / "Gyroscopes_left.txt.gz").write_bytes(b"")
    with pytest.raises(RecordingError, match="Gyroscopes_left.txt.gz: empty file"):
        RecordingSource(tmp_path, device_config)
