"""firmware_bridge must import and run on the device's base install: no training packages at all."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import firmware_bridge
from firmware_bridge.config.paths import REPO_ROOT

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
PROJECT = ["teacher", "distill", "hil", "tools"]

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


def test_no_firmware_bridge_module_imports_beyond_its_allowed_dependencies():
    allowed = {"numpy", "onnxruntime", "serial", "yaml", "mcap", "cryptography", "firmware_bridge"} | set(
        sys.stdlib_module_names
    )
    root = Path(firmware_bridge.__path__[0])
    offenders = []
    for info in pkgutil.walk_packages(firmware_bridge.__path__, "firmware_bridge."):
        relative = info.name.split(".", 1)[1].replace(".", "/")
        path = root / (relative + ("/__init__.py" if info.ispkg else ".py"))
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{info.name}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert offenders == []
