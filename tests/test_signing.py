"""Signed bundles: the runtime runs only what a trusted key signed, intact; the development flag is loud."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from device_bench import FAST_DEVICE, RuntimeUnderTest, make_bundle, suite_signing_key

from firmware_bridge.bundle import MANIFEST, BundleError, load_bundle
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.signing import SIGNATURE, Trust, TrustError, new_key, sign_bundle


def hipexo(*args: str, cwd=REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_signed_bundle_loads_and_names_its_signer(tmp_path, runtime_config, device_config, trust):
    bundle = load_bundle(make_bundle(tmp_path / "b"), runtime_config, device_config, trust=trust)
    assert bundle.signature.signed and bundle.signature.key_name == "test-signer"


def test_unsigned_bundle_is_refused_unless_the_development_flag_is_set(tmp_path, runtime_config, device_config, trust):
    bundle = make_bundle(tmp_path / "b", signed=False)
    with pytest.raises(BundleError, match="manifest.sig: missing; the bundle is unsigned"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)
    loaded = load_bundle(bundle, runtime_config, device_config, trust=Trust(trust.keys, allow_unsigned=True))
    assert not loaded.signature.signed and "UNSIGNED" in loaded.signature.describe()


def test_manifest_altered_after_signing_is_refused(tmp_path, runtime_config, device_config, trust):
    bundle = make_bundle(tmp_path / "b")
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["output_scaling"]["command_full_scale_nm_per_kg"] = 0.25  # same value, different bytes
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="altered after signing"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)


def test_model_swapped_under_a_valid_signature_is_refused(tmp_path, runtime_config, device_config, trust):
    bundle = make_bundle(tmp_path / "b")
    other = make_bundle(tmp_path / "other", gain=5.0)
    (bundle / "student.onnx").write_bytes((other / "student.onnx").read_bytes())
    with pytest.raises(BundleError, match="student.onnx: SHA-256 does not match"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)


def test_bundle_signed_by_an_unknown_key_is_refused(tmp_path, runtime_config, device_config, trust):
    bundle = make_bundle(tmp_path / "b")
    new_key(tmp_path / "stranger.key", "stranger")
    sign_bundle(bundle, tmp_path / "stranger.key")
    with pytest.raises(BundleError, match=r"signed by stranger \([0-9a-f]{16}\), which is not in the device's trusted"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)


def test_signature_from_another_trusted_bundle_does_not_transfer(tmp_path, runtime_config, device_config, trust):
    bundle, other = make_bundle(tmp_path / "b"), make_bundle(tmp_path / "other", gain=5.0)
    (bundle / SIGNATURE).write_bytes((other / SIGNATURE).read_bytes())
    with pytest.raises(BundleError, match="altered after signing"):
        load_bundle(bundle, runtime_config, device_config, trust=trust)


def test_bad_trusted_keys_file_names_the_line(tmp_path):
    path = tmp_path / "trusted_keys"
    path.write_text(f"# ok\n{suite_signing_key()[1].read_text().splitlines()[1]}\nssh-rsa AAAA someone\n")
    with pytest.raises(TrustError, match=r"trusted_keys:3: expected 'ed25519 <base64 key> \[name\]'"):
        Trust.from_file(path)
    with pytest.raises(TrustError, match="trusted-keys file not found"):
        Trust.from_file(tmp_path / "absent")


def test_new_key_is_private_and_never_overwritten(tmp_path):
    public = new_key(tmp_path / "k.key", "lab")
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k.pub").read_text().strip() == public.line()
    with pytest.raises(TrustError, match="already exists"):
        new_key(tmp_path / "k.key", "lab")


def test_keys_sign_verify_from_the_command_line(tmp_path):
    bundle = make_bundle(tmp_path / "b", signed=False)
    assert hipexo("keys", "new", "lab-release", "--out", str(tmp_path / "keys")).returncode == 0
    refused = hipexo("bundle", "verify", str(bundle), "--trusted-keys", str(tmp_path / "keys" / "lab-release.pub"))
    assert refused.returncode == 2 and "unsigned" in refused.stderr
    signed = hipexo("bundle", "sign", str(bundle), "--key", str(tmp_path / "keys" / "lab-release.key"))
    assert signed.returncode == 0, signed.stderr
    ok = hipexo("bundle", "verify", str(bundle), "--trusted-keys", str(tmp_path / "keys" / "lab-release.pub"))
    assert ok.returncode == 0 and "signed by lab-release" in ok.stdout


def test_runtime_refuses_unsigned_and_warns_loudly_when_allowed(tmp_path):
    (tmp_path / "refused").mkdir()
    (tmp_path / "allowed").mkdir()
    refused = RuntimeUnderTest(
        tmp_path / "refused", make_bundle(tmp_path / "u", signed=False, device=FAST_DEVICE), duration=1.0
    )
    try:
        assert refused.finish(60) == 2
        assert "unsigned" in refused.output() and not refused.commands()
    finally:
        refused.close()
    allowed = RuntimeUnderTest(tmp_path / "allowed", tmp_path / "u", duration=1.0, extra_args=("--allow-unsigned",))
    try:
        assert allowed.finish(60) == 0
        assert "DEVELOPMENT FLAG allow_unsigned IS ON" in allowed.output()
        log = allowed.log()
        assert any("allow_unsigned" in event["message"] for event in log.topic("/events"))
        assert "UNSIGNED" in log.metadata["bundle_signature"]["status"]
    finally:
        allowed.close()
