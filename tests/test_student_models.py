"""Student networks: left/right mirroring is an exact reflection, and every student exports to ONNX at parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from distill.config import THIGH_CHANNELS, StudentConfig
from distill.export import PARITY_TOLERANCE, export_onnx, parity
from distill.models import MIRROR_SIGNS, build_student, parameter_count
from firmware_bridge.features import FeatureSpec

CHANNELS = (*THIGH_CHANNELS, "pelvis.gyro_z", "pelvis.accel_z")
WINDOW = 16


def _spec(rng: np.random.Generator) -> FeatureSpec:
    mean = tuple(float(v) for v in rng.normal(0.0, 2.0, len(CHANNELS)))
    std = tuple(float(v) for v in rng.uniform(0.5, 3.0, len(CHANNELS)))
    return FeatureSpec(CHANNELS, WINDOW, 100.0, mean, std)


def _reflect(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same walk seen in a mirror: legs swap, and each signal takes its reflection sign."""
    out = {}
    for channel, values in raw.items():
        imu, quantity = channel.split(".")
        twin = {"thigh_r": "thigh_l", "thigh_l": "thigh_r"}.get(imu, imu)
        out[f"{twin}.{quantity}"] = MIRROR_SIGNS[quantity] * values
    return out


def _normalised(spec: FeatureSpec, raw: dict[str, np.ndarray]) -> torch.Tensor:
    columns = [(raw[c] - m) / s for c, m, s in zip(spec.channels, spec.mean, spec.std, strict=True)]
    return torch.from_numpy(np.stack(columns, axis=-1)[None].astype(np.float32))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), architecture=st.sampled_from(["tcn", "gru", "mlp"]))
def test_a_mirrored_walk_swaps_the_commands(seed, architecture):
    rng = np.random.default_rng(seed)
    spec = _spec(rng)
    torch.manual_seed(seed)
    model = build_student(StudentConfig(architecture=architecture, hidden=8, window=WINDOW, mirror=True), spec).eval()
    raw = {c: rng.normal(0.0, 3.0, WINDOW) for c in CHANNELS}
    with torch.no_grad():
        walk = model(_normalised(spec, raw))[0].numpy()
        mirrored = model(_normalised(spec, _reflect(raw)))[0].numpy()
    np.testing.assert_allclose(mirrored, walk[::-1], atol=1e-5)


def test_mirroring_halves_the_leg_network_and_names_a_missing_twin():
    spec = _spec(np.random.default_rng(0))
    plain = build_student(StudentConfig(hidden=16, window=WINDOW), spec)
    mirrored = build_student(StudentConfig(hidden=16, window=WINDOW, mirror=True), spec)
    assert parameter_count(mirrored) < parameter_count(plain)
    lopsided = FeatureSpec(("thigh_r.gyro_z", "thigh_l.gyro_x"), WINDOW, 100.0, (0.0, 0.0), (1.0, 1.0))
    with pytest.raises(ValueError, match="thigh_r.gyro_z has no left-leg twin thigh_l.gyro_z"):
        build_student(StudentConfig(window=WINDOW, mirror=True), lopsided)


@pytest.mark.parametrize("mirror", [False, True])
def test_students_export_to_onnx_within_parity(tmp_path, mirror):
    rng = np.random.default_rng(1)
    spec = _spec(rng)
    model = build_student(StudentConfig(hidden=8, window=WINDOW, mirror=mirror), spec).eval()
    fields = export_onnx(model, spec, tmp_path / "student.onnx")
    sequences = list(rng.normal(0.0, 1.0, (2, 2 * WINDOW, len(CHANNELS))).astype(np.float32))
    assert parity(model, tmp_path / "student.onnx", sequences, WINDOW, fields) <= PARITY_TOLERANCE
