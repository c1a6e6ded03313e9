"""The IMU feature window: channel order, normalisation, ring order, freshness, and its offline twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.features import FeatureSpec, FeatureWindow, LatestImu, sliding_windows
from firmware_bridge.protocol import ImuReading

IDS = {"pelvis": 0, "thigh_r": 1, "thigh_l": 2}
CHANNELS = ("thigh_r.gyro_z", "thigh_l.gyro_z", "thigh_r.accel_x", "pelvis.gyro_y")


def spec(window: int = 4) -> FeatureSpec:
    return FeatureSpec(CHANNELS, window, 100.0, mean=(1.0, 0.0, 0.0, 0.0), std=(2.0, 1.0, 1.0, 0.5))


def latest(t: float, seq: int, value: float) -> dict[int, LatestImu]:
    return {
        imu_id: LatestImu(ImuReading(imu_id, (value, value + 1, value + 2), (value + 3, 9.8, 0.0)), t, seq)
        for imu_id in IDS.values()
    }


def test_channels_are_picked_in_order_and_normalised():
    window = FeatureWindow(spec(1), IDS)
    window.push(latest(0.0, 0, 1.0), 0.0)
    # thigh_r.gyro_z = 3 -> (3-1)/2 ; thigh_l.gyro_z = 3 ; thigh_r.accel_x = 4 ; pelvis.gyro_y = 2 / 0.5
    np.testing.assert_allclose(window.tensor()[0, 0], [1.0, 3.0, 4.0, 4.0])


def test_tensor_is_oldest_first_contiguous_and_shaped_for_the_model():
    window = FeatureWindow(spec(3), IDS)
    for k in range(5):
        window.push(latest(k * 0.01, k, float(k)), k * 0.01)
    tensor = window.tensor()
    assert tensor.shape == (1, 3, 4) and tensor.dtype == np.float32 and tensor.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(tensor[0, :, 1], [4.0, 5.0, 6.0])  # thigh_l.gyro_z of periods 2, 3, 4


def test_ready_only_after_a_full_window_and_again_after_clear():
    window = FeatureWindow(spec(3), IDS)
    for k in range(3):
        assert not window.ready
        window.push(latest(0.0, k, 0.0), 0.0)
    assert window.ready
    window.clear()
    assert not window.ready


def test_staleness_is_the_age_of_the_oldest_newest_sample():
    window = FeatureWindow(spec(), IDS)
    readings = latest(1.0, 0, 0.0)
    readings[2] = readings[2]._replace(received_s=0.95)
    status = window.push(readings, now_s=1.01)
    assert status.max_age_s == pytest.approx(0.06)


def test_repeated_sample_counts_as_a_gap_and_missing_imu_is_infinitely_stale():
    window = FeatureWindow(spec(), IDS)
    window.push(latest(0.0, 0, 0.0), 0.0)
    status = window.push(latest(0.0, 0, 0.0), 0.01)
    assert set(status.repeated_imus) == {0, 1, 2} and window.gaps[1] == 1
    partial = latest(0.02, 1, 0.0)
    del partial[0]
    status = window.push(partial, 0.02)
    assert status.missing_imus == (0,) and math.isinf(status.max_age_s)


def test_nonfinite_channel_is_flagged_and_not_stored():
    window = FeatureWindow(spec(2), IDS)
    readings = latest(0.0, 0, 0.0)
    readings[1] = readings[1]._replace(reading=ImuReading(1, (0.0, 0.0, math.nan), (0.0, 0.0, 0.0)))
    assert window.push(readings, 0.0).nonfinite
    assert np.isfinite(window.tensor()).all()


def test_unknown_imu_in_spec_is_refused():
    with pytest.raises(ValueError, match="shank_r"):
        FeatureWindow(FeatureSpec(("shank_r.gyro_z",), 2, 100.0, (0.0,), (1.0,)), IDS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(channels=("thigh_r.magnet_x",)), "not '<imu>"),
        (dict(std=(0.0,)), "std"),
        (dict(mean=(0.0, 1.0)), "must match"),
        (dict(window=0), "window"),
    ],
)
def test_bad_spec_is_refused_with_a_clear_message(kwargs, message):
    base = dict(channels=("thigh_r.gyro_x",), window=2, rate_hz=100.0, mean=(0.0,), std=(1.0,))
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        FeatureSpec(**base)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 12), st.integers(0, 40), st.integers(0, 2**32 - 1))
def test_streaming_window_equals_offline_windows(window_len, extra, seed):
    rng = np.random.default_rng(seed)
    s = spec(window_len)
    names = ("pelvis", "thigh_r", "thigh_l")
    values = rng.normal(size=(window_len + extra, 18)) * 3.0
    offline = sliding_windows(s, names, values)
    stream = FeatureWindow(s, IDS)
    blocks = [names.index(name) for name in s.imu_names]  # the window's own IMU order
    for t, row in enumerate(values):
        stream.push_raw(np.concatenate([row[6 * b : 6 * b + 6] for b in blocks]))
        if t >= window_len - 1:
            np.testing.assert_array_equal(stream.tensor()[0], offline[t - window_len + 1])
