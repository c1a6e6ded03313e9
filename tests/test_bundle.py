"""Bundles are checked before any torque: manifest, checksums, ONNX graph, device configs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from device_bench import CHANNELS, build_model, make_bundle, suite_signing_key

from firmware_bridge.bundle import MANIFEST, BundleError, load_bundle, write_manifest
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.signing import sign_bundle
from hil.pty_link import FramePeer, PtyPair


def edit_manifest(bundle, change) -> None:
    """A wrong manifest, signed: what a signer's mistake (not tampering) looks like."""
    manifest = json.loads((bundle / MANIFEST).read_text())
    change(manifest)
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    sign_bundle(bundle, suite_signing_key()[0])


def test_a_good_bundle_loads(tmp_path, runtime_config, device_config, trust):
    bundle = load_bundle(make_bundle(tmp_path / "b"), runtime_config, device_config, trust=trust)
    assert bundle.input.shape == [1, 10, len(CHANNELS)] and bundle.features.channels == tuple(CHANNELS)
    assert len(bundle.model_sha256) == 64


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["features"].update(rate_hz=200.0), "features.rate_hz: bundle is 200 Hz, runtime loop is 100 Hz"),
        (lambda m: m["features"].update(window=20), "model.input.shape: [1, 10, 4] does not match features"),
        (lambda m: m["model"]["input"].update(name="imu"), "model.input.name: manifest 'imu', ONNX graph 'imu_window'"),
        (
            lambda m: m["model"]["output"].update(dtype="float64"),
            "model.output.dtype: manifest float64, ONNX graph float32",
        ),
        (
            lambda m: m["features"].update(channels=["ankle.gyro_z", *CHANNELS[1:]]),
            "IMUs ['ankle'] are not on this device",
        ),
        (lambda m: m["output_scaling"].update(command_full_scale_nm_per_kg=0.5), "bundle 0.5, device config 0.25"),
        (lambda m: m.update(format_version=99), "format: expected 'hipexo-bundle' version 1"),
        (lambda m: m.pop("features"), "features: missing"),
        (lambda m: m["model"].update(output_sides=["left", "right"]), "model.output_sides"),
    ],
)
def test_mismatched_manifest_is_refused_naming_the_field(
    tmp_path, runtime_config, device_config, trust, change, message
):
    bundle = make_bundle(tmp_path / "b")
    edit_manifest(bundle, change)
    with pytest.raises(BundleError) as error:
        load_bundle(bundle, runtime_config, device_config, trust=trust)
    assert message in str(error.value)


def test_tampered_missing_or_foreign_model_is_refused(tmp_path, runtime_config, device_config, trust):
    bundle = make_bundle(tmp_path / "b")
    model = bundle / "student.onnx"
    model.write_bytes(model.read_bytes() + b"\x00")
    with pytest.raises(BundleError, match="SHA-256 does not match"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)
    model.unlink()
    with pytest.raises(BundleError, match="missing from the bundle"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)
    build_model(model, window=12, channels=len(CHANNELS))  # a different graph, re-checksummed
    manifest = json.loads((bundle / MANIFEST).read_text())
    write_manifest(bundle, {k: v for k, v in manifest.items() if k != "files"})
    sign_bundle(bundle, suite_signing_key()[0])
    with pytest.raises(BundleError, match=r"model.input.shape: manifest \[1, 10, 4\], ONNX graph \[1, 12, 4\]"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)
    (bundle / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="altered after signing"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)
    sign_bundle(bundle, suite_signing_key()[0])
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)


def test_runtime_refuses_a_bad_bundle_before_sending_anything(tmp_path):
    bundle = make_bundle(tmp_path / "b")
    edit_manifest(bundle, lambda m: m["features"].update(rate_hz=50.0))
    pty = PtyPair()
    peer = FramePeer(pty.master)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.cli",
                "run",
                "--bundle",
                str(bundle),
                "--imu-port",
                pty.device_path,
                "--out",
                str(tmp_path / "trials"),
                "--trusted-keys",
                str(suite_signing_key()[1]),
                "--dev-subject",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        time.sleep(0.1)
        assert result.returncode == 2
        assert "bundle refused" in result.stderr and "features.rate_hz" in result.stderr
        assert "Traceback" not in result.stderr
        assert peer.poll() == [] and not (tmp_path / "trials").exists()
    finally:
        pty.close()


def test_shaping_and_limits_must_match_the_device_unless_overridden(tmp_path, runtime_config, device_config, trust):
    bundle = make_bundle(tmp_path / "b", device={"lowpass": {"cutoff_hz": 8.0}, "torque_limit_nm": 30.0})
    with pytest.raises(BundleError) as refused:
        load_bundle(bundle, runtime_config, device_config, trust=trust)
    text = str(refused.value)
    assert "shaping.lowpass_cutoff_hz: bundle 8.0, device config 12.0" in text
    assert "shaping.torque_limit_nm: bundle 30.0, device config 25.0" in text and "--accept-shaping-mismatch" in text
    accepted = load_bundle(bundle, runtime_config, device_config, trust=trust, accept_shaping_mismatch=True)
    assert len(accepted.shaping_mismatches) == 2
    edit_manifest(bundle, lambda m: m.pop("shaping"))
    with pytest.raises(BundleError, match="shaping: missing from the manifest"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)
