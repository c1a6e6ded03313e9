"""The streaming student: same commands as the windowed one, one new sample per call, state reset with the window."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from distill.config import THIGH_CHANNELS, StudentConfig
from distill.export import PARITY_TOLERANCE, write_bundle
from distill.models import CausalTCN, build_student
from distill.streaming import StreamingStudent, run_stream
from firmware_bridge.bundle import MANIFEST, load_bundle, write_manifest
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.features import FeatureSpec, FeatureWindow, StreamChunk, normalised, windows_of
from firmware_bridge.runtime.controller import OnnxStudent
from firmware_bridge.signing import Trust

SHIPPED = REPO_ROOT / "models" / "student" / "default"
THIGHS = ("thigh_r", "thigh_l")


def torch_step(model: torch.nn.Module):
    """The PyTorch stream as :func:`run_stream`'s step function."""

    def step(samples: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        with torch.no_grad():
            out, next_state = model.stream(torch.from_numpy(samples), [torch.from_numpy(s) for s in state])
        return out.numpy(), [s.numpy() for s in next_state]

    return step


def _floats(values: np.ndarray) -> tuple[float, ...]:
    """Plain floats, as a spec read from a manifest has."""
    return tuple(map(float, values))


def _windowed(model: torch.nn.Module, rows: np.ndarray, window: int) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(windows_of(rows, window))).numpy()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    kernel=st.integers(2, 3),
    dilations=st.lists(st.sampled_from([1, 2, 3, 4]), min_size=1, max_size=3),
    mirror=st.booleans(),
    extra_window=st.integers(0, 8),
    extra_steps=st.integers(0, 40),
)
def test_the_stream_reproduces_the_windowed_tcn_once_the_window_covers_its_receptive_field(
    seed, kernel, dilations, mirror, extra_window, extra_steps
):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    channels = tuple(THIGH_CHANNELS)
    tcn = CausalTCN(6 if mirror else 12, hidden=6, kernel=kernel, dilations=tuple(dilations), outputs=1 + (not mirror))
    window = tcn.receptive_field + extra_window
    spec = FeatureSpec(channels, window, 100.0, _floats(rng.normal(0, 1, 12)), _floats(rng.uniform(0.5, 2, 12)))
    model = build_student(StudentConfig(window=window, mirror=mirror), spec)
    if mirror:
        model.leg = tcn
    else:
        model = tcn
    model.eval()
    rows = rng.normal(0.0, 1.5, (window + extra_steps, 12)).astype(np.float32)
    streamed = run_stream(torch_step(model), StreamingStudent(model).zero_state(), rows, window)
    np.testing.assert_allclose(streamed, _windowed(model, rows, window), atol=1e-5, rtol=0)


def _raw(spec: FeatureSpec, rng: np.random.Generator, periods: int) -> np.ndarray:
    """Physical IMU values (gyro xyz, accel xyz per thigh) around the spec's normalisation."""
    return (np.asarray(spec.mean) + np.asarray(spec.std) * rng.normal(0.0, 1.0, (periods, len(spec.channels)))).astype(
        np.float64
    )


def test_the_window_hands_a_stream_only_new_samples_and_restarts_it_after_a_clear():
    spec = FeatureSpec(tuple(THIGH_CHANNELS), 4, 100.0, (0.0,) * 12, (1.0,) * 12, stream=True)
    window = FeatureWindow(spec, {"thigh_r": 1, "thigh_l": 2})
    rows = np.arange(10 * 12, dtype=np.float64).reshape(10, 12)
    for row in rows[:4]:
        window.push_raw(row)
    first = window.tensor()
    assert isinstance(first, StreamChunk) and first.restart
    np.testing.assert_array_equal(first.samples[0], rows[:4])
    window.push_raw(rows[4])
    second = window.tensor()
    assert not second.restart and second.samples.shape == (1, 1, 12)
    np.testing.assert_array_equal(second.samples[0, 0], rows[4])
    window.clear()
    for row in rows[5:9]:
        window.push_raw(row)
    assert window.ready and window.tensor().restart, "a clear restarts the stream, as it refills the window"
    for row in rows[:5]:  # more than a window unseen: the state cannot continue, the window restarts it
        window.push_raw(row)
    late = window.tensor()
    assert late.restart
    np.testing.assert_array_equal(late.samples[0], rows[1:5])


def _export(tmp_path, mirror: bool, streaming: bool, window: int = 64):
    rng = np.random.default_rng(3)
    spec = FeatureSpec(
        tuple(THIGH_CHANNELS), window, 100.0, _floats(rng.normal(0, 1, 12)), _floats(rng.uniform(1, 2, 12))
    )
    torch.manual_seed(0)
    model = build_student(StudentConfig(hidden=8, window=window, mirror=mirror), spec).eval()
    sequences = list(rng.normal(0, 1, (2, 2 * window, 12)).astype(np.float32))
    from firmware_bridge.config import DeviceConfig, load_config
    from firmware_bridge.config.paths import default_config

    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    bundle, worst = write_bundle(model, spec, device, tmp_path / "bundle", sequences, {"note": "test"}, streaming)
    return model, spec, bundle, worst


@pytest.mark.parametrize("mirror", [False, True])
def test_a_streaming_bundle_records_its_state_and_runs_on_the_device_at_parity(
    tmp_path, runtime_config, device_config, mirror
):
    model, spec, path, worst = _export(tmp_path, mirror, streaming=True)
    assert worst <= PARITY_TOLERANCE
    bundle = load_bundle(path, runtime_config, device_config, trust=Trust(allow_unsigned=True))
    manifest = bundle.manifest["model"]
    assert manifest["kind"] == "streaming" and manifest["receptive_field"] == 61
    assert manifest["input"] == {"name": "imu_samples", "shape": [1, 1, 12], "dtype": "float32"}
    assert [s.shape for s in bundle.state] == [[2 if mirror else 1, 8, 2 * d] for d in (1, 2, 4, 8) for _ in (1, 2)]
    assert bundle.features.stream and bundle.state[0].next == "state_block0_conv1_next"
    _device_matches_windowed(bundle, model, spec)


def _device_matches_windowed(bundle, model: torch.nn.Module, spec: FeatureSpec) -> float:
    """The device's path (feature window → OnnxStudent) over a walk with a fault in the middle (the loop clears
    the window) against the windowed PyTorch model, wherever the window is full; returns the worst |Δ|."""
    rng = np.random.default_rng(7)
    raw = _raw(spec, rng, 3 * spec.window)
    student, window = OnnxStudent(bundle), FeatureWindow(bundle.features, {"thigh_r": 1, "thigh_l": 2})
    fault_at = spec.window + 17
    got, expected = [], []
    for t, row in enumerate(raw):
        if t == fault_at:
            window.clear()
        window.push_raw(row)
        if window.ready:
            got.append(student.command(window.tensor()))
            start = 0 if t < fault_at else fault_at
            history = normalised(spec, THIGHS, raw[max(start, t - spec.window + 1) : t + 1])
            expected.append(_windowed(model, history, spec.window)[-1])
    assert len(got) == len(raw) - 2 * spec.window + 2, "commands before the fault and after the refill"
    worst = float(np.abs(np.array(got) - np.array(expected)).max())
    assert worst <= PARITY_TOLERANCE
    return worst


def test_the_export_refuses_a_stream_whose_window_misses_part_of_its_receptive_field(tmp_path):
    with pytest.raises(ValueError, match=r"window \(32\) must cover the receptive field \(61\)"):
        _export(tmp_path, mirror=False, streaming=True, window=32)


def test_a_windowed_bundle_from_before_streaming_still_loads_and_runs(tmp_path, runtime_config, device_config):
    model, spec, path, worst = _export(tmp_path, mirror=False, streaming=False)
    manifest = json.loads((path / MANIFEST).read_text())
    del manifest["model"]["kind"]  # the format before streaming students
    del manifest["files"]
    write_manifest(path, manifest)
    bundle = load_bundle(path, runtime_config, device_config, trust=Trust(allow_unsigned=True))
    assert bundle.state == () and not bundle.features.stream and bundle.input.shape == [1, 64, 12]
    _device_matches_windowed(bundle, model, spec)


def test_the_shipped_student_streams_at_parity_with_its_windowed_weights(runtime_config, device_config):
    bundle = load_bundle(SHIPPED / "bundle", runtime_config, device_config, trust=Trust(allow_unsigned=True))
    assert bundle.manifest["model"]["kind"] == "streaming"
    model = build_student(StudentConfig(hidden=32, window=64), bundle.features).eval()
    model.load_state_dict(torch.load(SHIPPED / "student.pt"))
    assert model.receptive_field == 61 <= bundle.features.window
    _device_matches_windowed(bundle, model, bundle.features)
