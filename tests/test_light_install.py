"""firmware_bridge must import and run on the device's base install: no training packages at all."""

from __future__ import annotations

import ast
import os
import pkgutil
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import firmware_bridge
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.protocol.messages import ImuReading, ImuSample
from firmware_bridge.trial.reader import read_trial
from hil.pty_link import FramePeer, PtyPair

HEAVY = [
    "torch",
    "mujoco",
    "gymnasium",
    "stable_baselines3",
    "scipy",
    "matplotlib",
    "onnx",
    "assist_sim",
    "numba",
    "ray",
]
PROJECT = ["teacher", "distill", "hil", "tools", "analysis"]

PROBE = f"""
import importlib.abc, sys
BLOCKED = {HEAVY + PROJECT!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked for this test: {{name}}")
sys.meta_path.insert(0, Block())
import pkgutil, importlib, firmware_bridge
for info in pkgutil.walk_packages(firmware_bridge.__path__, "firmware_bridge."):
    importlib.import_module(info.name)
from firmware_bridge.config import DeviceConfig, SubjectConfig, load_config
from firmware_bridge.features import FeatureSpec, FeatureWindow, LatestImu
from firmware_bridge.protocol import ImuReading, ImuSample, StreamDecoder, encode_frame
from firmware_bridge.shaping import ShaperState, ShapingParams, shape_step
device = load_config("configs/device/hip_exo.yaml", DeviceConfig)
subject = load_config("configs/subject/default.yaml", SubjectConfig)
params = ShapingParams.from_config(device, subject, 100.0)
state = ShaperState.initial(params)
torque = [shape_step(params, state, 1.0, -1.0) for _ in range(200)][-1]
assert torque.right_nm > 10 and torque.left_nm < -10, torque
reading = ImuReading(1, (0.1, 0.2, 0.3), (0.0, 0.0, 9.8))
(frame,) = StreamDecoder().feed(encode_frame(ImuSample((reading,)), 0, 0))
window = FeatureWindow(FeatureSpec(("thigh_r.gyro_z",), 3, 100.0, (0.0,), (1.0,)), device.imu_ids())
window.push({{1: LatestImu(frame.message.readings[0], 0.0, 0)}}, 0.0)
assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
print("light ok")
"""


def test_firmware_bridge_runs_with_training_packages_absent():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "light ok" in result.stdout


OPTIONAL_EXTRAS = {"foxglove"}
"""Modules of the device's optional extras (``live``), which firmware_bridge may import inside a function only."""


def test_no_firmware_bridge_module_imports_beyond_its_allowed_dependencies():
    allowed = {"numpy", "onnxruntime", "serial", "yaml", "mcap", "cryptography", "firmware_bridge"} | set(
        sys.stdlib_module_names
    )
    root = Path(firmware_bridge.__path__[0])
    offenders = []
    for info in pkgutil.walk_packages(firmware_bridge.__path__, "firmware_bridge."):
        relative = info.name.split(".", 1)[1].replace(".", "/")
        path = root / (relative + ("/__init__.py" if info.ispkg else ".py"))
        tree = ast.parse(path.read_text())
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        lazy = {id(node) for function in functions for node in ast.walk(function)}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            permitted = allowed | OPTIONAL_EXTRAS if id(node) in lazy else allowed
            offenders += [f"{info.name}: {n}" for n in names if n.split(".")[0] not in permitted]
    assert offenders == []


# --- a device-only install, as a device computer gets it: the wheel with its base dependencies only ---------

BASE_EXTRA_MODULES = ["torch", "stable_baselines3", "gymnasium", "mujoco", "scipy", "onnx"]


def _run(command: list[str], cwd: Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def device_install(tmp_path_factory) -> Path:
    """A fresh venv outside the repository with ``pip install hipexo`` (no extras) from a wheel built from this
    checkout's files; its base dependencies come from the package index through the local pip cache."""
    work = tmp_path_factory.mktemp("device-install")
    files = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], REPO_ROOT).stdout.split("\0")
    source = work / "src"
    for name in filter(None, files):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO_ROOT / name).is_symlink():
            target.symlink_to(os.readlink(REPO_ROOT / name))
        elif (REPO_ROOT / name).is_file():
            shutil.copy2(REPO_ROOT / name, target)
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(work), "."], source
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = work.glob("hipexo-*.whl")
    venv = work / "venv"
    assert _run([sys.executable, "-m", "venv", "--clear", str(venv)], work).returncode == 0
    installed = _run(
        [str(venv / "bin/pip"), "install", "-q", "-c", str(REPO_ROOT / "constraints.txt"), str(wheel)], work
    )
    assert installed.returncode == 0, installed.stderr
    return venv / "bin" / "hipexo"


def test_the_device_install_has_no_training_packages(device_install):
    python = device_install.parent / "python"
    for module in BASE_EXTRA_MODULES:
        assert _run([str(python), "-c", f"import {module}"], device_install.parent).returncode != 0, module


def test_a_training_command_on_the_device_install_names_the_extra_in_one_line(device_install, tmp_path):
    result = _run([str(device_install), "teacher", "train", "--steps", "1"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hipexo: error: this command needs the 'train' extra (gymnasium is missing): pip install 'hipexo[train]'"
    ]


def test_the_live_view_on_the_device_install_names_its_extra_in_one_line(device_install, tmp_path):
    result = _run([str(device_install), "run", "--baseline", "--dev-subject", "--live"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hipexo: error: --live needs the 'live' extra (foxglove-sdk is missing): pip install 'hipexo[live]'"
    ]


def test_the_device_install_reads_and_exports_trial_logs(device_install, tmp_path):
    """analysis/ runs on the base install: a log (of the first format) inspected and exported as CSV; Parquet names
    its extra in one line and writes nothing."""
    hipexo, trial = str(device_install), str(REPO_ROOT / "tests" / "data" / "trial_format1.mcap")
    inspected = _run([hipexo, "trial", "inspect", trial], tmp_path)
    assert inspected.returncode == 0 and "faults      1" in inspected.stdout, inspected.stderr
    exported = _run([hipexo, "trial", "export", trial, "--out", "out"], tmp_path)
    assert exported.returncode == 2 and not (tmp_path / "out").exists()
    assert exported.stderr.strip().splitlines() == [
        "hipexo: error: Parquet needs pyarrow: pip install 'hipexo[analysis]' (or --format csv for the CSV table only)"
    ]
    exported = _run([hipexo, "trial", "export", trial, "--out", "out", "--format", "csv"], tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / "trial_format1.csv").read_text(encoding="utf-8").startswith("time_s,cycle,state,fault,")


def _feed_imu(peer: FramePeer, stop: threading.Event) -> None:
    """IMU frames at 100 Hz with sensor-like noise (bit-identical frames would read as a frozen IMU)."""
    rng = np.random.default_rng(0)
    while not stop.is_set():
        noise = rng.normal(0.0, 1e-3, (3, 6))
        readings = tuple(
            ImuReading(i, tuple(noise[i, :3]), tuple(np.add((0.0, 9.81, 0.0), noise[i, 3:]))) for i in range(3)
        )
        try:
            peer.send(ImuSample(readings))
        except OSError:
            return
        peer.poll()
        time.sleep(0.01)


def test_the_device_install_verifies_installs_and_runs_the_shipped_student(device_install, tmp_path):
    """From a folder outside the repository, with only the package's own default configs."""
    hipexo = str(device_install)
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO_ROOT / "models" / "student" / "default" / "bundle", bundle)
    assert _run([hipexo, "run", "--help"], tmp_path).returncode == 0
    verified = _run([hipexo, "bundle", "verify", str(bundle), "--allow-unsigned"], tmp_path)
    assert verified.returncode == 0 and "ok:" in verified.stdout, verified.stderr
    assert _run([hipexo, "keys", "new", "lab", "--out", "keys"], tmp_path).returncode == 0
    signed = _run([hipexo, "bundle", "sign", str(bundle), "--key", "keys/lab.key"], tmp_path)
    assert signed.returncode == 0, signed.stderr
    root = tmp_path / "device"
    root.mkdir()
    shutil.copy(tmp_path / "keys" / "lab.pub", root / "trusted_keys")
    installed = _run([hipexo, "device", "install", str(bundle), "--device-root", "device"], tmp_path)
    assert installed.returncode == 0, installed.stderr
    (tmp_path / "subject.yaml").write_text("kind: subject\nsubject_id: S01\nbody_mass_kg: 70.0\nheight_m: 1.70\n")
    pty = PtyPair()
    stop = threading.Event()
    feeder = threading.Thread(target=_feed_imu, args=(FramePeer(pty.master), stop), daemon=True)
    feeder.start()
    try:
        run = [hipexo, "run", "--device-root", "device", "--imu-port", pty.device_path, "--duration", "2"]
        result = _run([*run, "--out", "trials", "--subject-config", "subject.yaml"], tmp_path, timeout=60)
    finally:
        stop.set()
        feeder.join(2.0)
        pty.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped (" in result.stdout and "0 faults" in result.stdout, result.stdout
    (trial,) = (tmp_path / "trials").glob("*.mcap")
    assert read_trial(trial).complete


def test_recordings_read_and_calibrate_on_the_base_install():
    """The recordings package (base install) reads an Xsens export and calibrates with the training packages and
    the other project packages absent."""
    probe = PROBE[: PROBE.index("import pkgutil")] + (
        "from firmware_bridge.config import DeviceConfig, load_config\n"
        "from recordings import calibrate, open_recording\n"
        "device = load_config('configs/device/hip_exo.yaml', DeviceConfig)\n"
        "assert calibrate(open_recording('tests/data/xsens/orientation_only'), device)['thigh_r'].walking_s > 3\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in BLOCKED]\n"
        "print('recordings ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "recordings ok" in result.stdout
