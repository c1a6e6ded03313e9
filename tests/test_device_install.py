"""Loading students onto the device: verified where they run, atomic ``current``, rollback, real SSH."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from device_bench import make_bundle, suite_signing_key
from ssh_device import SSHD, start_sshd

from firmware_bridge.bundle import BundleError, read_manifest, write_manifest
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.device_root import DeviceRoot
from firmware_bridge.signing import new_key, sign_bundle

HIPEXO = str(Path(sys.executable).parent / "hipexo")


def hipexo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )


def device_dir(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "trusted_keys").write_text(suite_signing_key()[1].read_text())
    return folder


def test_install_then_rollback_restores_the_previous_student(tmp_path):
    root = device_dir(tmp_path / "device")
    first, second = make_bundle(tmp_path / "a"), make_bundle(tmp_path / "b", gain=2.0)
    assert hipexo("device", "install", str(first), "--device-root", str(root)).returncode == 0
    installed = hipexo("device", "install", str(second), "--device-root", str(root))
    assert installed.returncode == 0, installed.stderr
    device = DeviceRoot(root)
    active = device.active()
    assert (root / "current" / "student.onnx").read_bytes() == (second / "student.onnx").read_bytes()
    status = json.loads(hipexo("device", "status", "--device-root", str(root), "--json").stdout)
    assert hipexo("device", "status", "--device-root", str(root), "--json", str(tmp_path / "s.json")).stdout == ""
    assert json.loads((tmp_path / "s.json").read_text()) == status
    assert status["active"] == active and len(status["versions"]) == 2 and status["rollback_to"] != active
    assert all(v["signer"] == "test-signer" for v in status["versions"])
    assert hipexo("device", "rollback", "--device-root", str(root)).returncode == 0
    assert (root / "current" / "student.onnx").read_bytes() == (first / "student.onnx").read_bytes()
    again = hipexo("device", "rollback", "--device-root", str(root))
    assert again.returncode == 2 and "no earlier version" in again.stderr


@pytest.mark.parametrize("defect", ["tampered_model", "unsigned", "untrusted", "wrong_rate"])
def test_installer_refuses_a_bad_bundle_and_keeps_current(tmp_path, defect):
    root = device_dir(tmp_path / "device")
    good = make_bundle(tmp_path / "good")
    DeviceRoot(root).install_local(good)
    before = os.readlink(root / "current")
    bad = make_bundle(
        tmp_path / "bad", gain=3.0, signed=defect != "unsigned", rate_hz=50.0 if defect == "wrong_rate" else 100.0
    )
    if defect == "tampered_model":
        (bad / "student.onnx").write_bytes((bad / "student.onnx").read_bytes() + b"\x00")
    if defect == "untrusted":
        new_key(tmp_path / "stranger.key", "stranger")
        sign_bundle(bad, tmp_path / "stranger.key")
    result = hipexo("device", "install", str(bad), "--device-root", str(root))
    expected = {
        "tampered_model": "SHA-256 does not match",
        "unsigned": "unsigned",
        "untrusted": "not in the device's trusted keys",
        "wrong_rate": "features.rate_hz: bundle is 50 Hz, runtime loop is 100 Hz",
    }[defect]
    assert result.returncode == 2 and "current unchanged" in result.stderr and expected in result.stderr
    assert os.readlink(root / "current") == before
    assert len(DeviceRoot(root).versions()) == 1 and not DeviceRoot(root).stale_stagings()


def test_a_partial_transfer_is_never_made_current(tmp_path):
    root = device_dir(tmp_path / "device")
    device = DeviceRoot(root)
    device.install_local(make_bundle(tmp_path / "good"))
    before = device.active()
    staged = device.new_staging()
    for f in make_bundle(tmp_path / "next", gain=2.0).iterdir():
        data = f.read_bytes()
        staged.joinpath(f.name).write_bytes(data[: len(data) // 2] if f.suffix == ".onnx" else data)  # cut mid-file
    with pytest.raises(BundleError, match="student.onnx: SHA-256 does not match"):
        device.receive(staged)
    assert device.active() == before and not staged.exists()


def padded_bundle(folder: Path, megabytes: int) -> Path:
    """A signed bundle with a large extra file (covered by the checksums), so a copy takes a while."""
    make_bundle(folder, signed=False, gain=4.0)
    with open(folder / "padding.bin", "wb") as f:
        f.write(os.urandom(megabytes << 20))
    manifest = read_manifest(folder)
    write_manifest(folder, {k: v for k, v in manifest.items() if k != "files"})
    sign_bundle(folder, suite_signing_key()[0])
    return folder


@pytest.fixture(scope="module")
def ssh_device(tmp_path_factory):
    if not SSHD.is_file():
        pytest.skip("OpenSSH server not installed (.ci/run installs Debian's openssh-server)")
    device = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield device
    device.stop()


def remote(ssh_device, root: Path) -> list[str]:
    return [
        "--device-root",
        f"{ssh_device.host_alias}:{root}",
        "--ssh-config",
        str(ssh_device.config),
        "--remote-hipexo",
        HIPEXO,
    ]


def test_install_status_rollback_over_ssh(tmp_path, ssh_device):
    root = device_dir(tmp_path / "device")
    first, second = make_bundle(tmp_path / "a"), make_bundle(tmp_path / "b", gain=2.0)
    for bundle in (first, second):
        result = hipexo("device", "install", str(bundle), *remote(ssh_device, root))
        assert result.returncode == 0, result.stderr
        assert "installed" in result.stdout
    status = hipexo("device", "status", "--json", *remote(ssh_device, root))
    assert json.loads(status.stdout)["active"] == DeviceRoot(root).active()
    saved = hipexo("device", "status", *remote(ssh_device, root), "--json", str(tmp_path / "status.json"))
    assert saved.returncode == 0 and saved.stdout == "", saved.stderr
    assert json.loads((tmp_path / "status.json").read_text())["active"] == DeviceRoot(root).active()
    assert (root / "current" / "student.onnx").read_bytes() == (second / "student.onnx").read_bytes()
    assert hipexo("device", "rollback", *remote(ssh_device, root)).returncode == 0
    assert (root / "current" / "student.onnx").read_bytes() == (first / "student.onnx").read_bytes()
    tampered = make_bundle(tmp_path / "t", gain=3.0)
    (tampered / "student.onnx").write_bytes(b"not onnx")
    refused = hipexo("device", "install", str(tampered), *remote(ssh_device, root))
    assert refused.returncode == 2 and "SHA-256 does not match" in refused.stderr
    assert (root / "current" / "student.onnx").read_bytes() == (first / "student.onnx").read_bytes()


def test_install_killed_mid_copy_leaves_current_alone(tmp_path, ssh_device):
    root = device_dir(tmp_path / "device")
    DeviceRoot(root).install_local(make_bundle(tmp_path / "good"))
    before = os.readlink(root / "current")
    big = padded_bundle(tmp_path / "big", megabytes=48)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "device", "install", str(big), *remote(ssh_device, root)],
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not DeviceRoot(root).stale_stagings() and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(0.5)
    assert os.readlink(root / "current") == before
    assert len(DeviceRoot(root).versions()) == 1  # nothing half-copied became a version
    finished = hipexo("device", "install", str(big), *remote(ssh_device, root))
    assert finished.returncode == 0, finished.stderr
    assert (root / "current" / "padding.bin").stat().st_size == 48 << 20
    assert not DeviceRoot(root).stale_stagings()


def test_runtime_runs_the_installed_student_from_the_device_root(tmp_path):
    from device_bench import RuntimeUnderTest

    root = device_dir(tmp_path / "device")
    DeviceRoot(root).install_local(make_bundle(tmp_path / "good"))
    (tmp_path / "run").mkdir()
    run = RuntimeUnderTest(tmp_path / "run", root / "current", duration=1.0, device={})
    try:
        assert run.finish(60) == 0, run.output()
        assert "signed by test-signer" in run.log().metadata["bundle_signature"]["status"]
    finally:
        run.close()
