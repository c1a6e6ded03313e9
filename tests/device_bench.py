"""Test harness for the device runtime: a real ``hipexo run`` subprocess on real ptys, fed by a thread.

Bundles hold small real ONNX models built with ``onnx.helper``: the command is the newest value of two
input channels times a gain, so a test steers the model's output through the IMU values it sends.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper

from firmware_bridge.bundle import manifest_for, shaping_section, write_manifest
from firmware_bridge.config import DeviceConfig, build
from firmware_bridge.config.paths import REPO_ROOT, default_config
from firmware_bridge.features import FeatureSpec
from firmware_bridge.protocol.messages import ImuReading, ImuSample, TorqueCommand
from firmware_bridge.signing import new_key, sign_bundle
from firmware_bridge.trial.reader import TrialLog, read_trial
from hil.pty_link import FramePeer, PtyPair

CHANNELS = ["thigh_r.gyro_z", "thigh_l.gyro_z", "pelvis.gyro_z", "thigh_r.accel_x"]
IMU_IDS = (0, 1, 2)  # pelvis, thigh_r, thigh_l in configs/device/hip_exo.yaml
FAST_DEVICE = {"soft_start_s": 0.2, "fade_out_s": 0.2}
"""configs/device/hip_exo.yaml with short transitions: the device of RuntimeUnderTest, and of its bundles."""
TEST_SUBJECT = {"subject_id": "S-test", "body_mass_kg": 75.0}


def build_model(path: Path, window: int, channels: int, gain: float = 1.0, op: str = "identity", slow: int = 0) -> None:
    """y = op(gain · x[0, -1, 0:2]) reshaped to (1, 2); ``slow`` adds a wasteful n×n matmul chain."""
    nodes = [
        helper.make_node("Slice", ["imu_window", "starts", "ends", "axes"], ["last"]),
        helper.make_node("Reshape", ["last", "shape"], ["flat"]),
        helper.make_node("Mul", ["flat", "gain"], ["scaled"]),
    ]
    inits = [
        helper.make_tensor("starts", TensorProto.INT64, [2], [window - 1, 0]),
        helper.make_tensor("ends", TensorProto.INT64, [2], [window, 2]),
        helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
        helper.make_tensor("shape", TensorProto.INT64, [2], [1, 2]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [gain]),
    ]
    last = "scaled"
    if op == "sqrt":
        nodes.append(helper.make_node("Sqrt", [last], ["rooted"]))
        last = "rooted"
    if slow:  # input-dependent, so ONNX Runtime cannot fold it away at load time
        inits.append(helper.make_tensor("big", TensorProto.FLOAT, [slow, slow], np.full(slow * slow, 1e-4, np.float32)))
        inits.append(helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]))
        nodes += [
            helper.make_node("ReduceSum", [last], ["seed"], keepdims=0),
            helper.make_node("Mul", ["big", "seed"], ["b0"]),
            helper.make_node("MatMul", ["b0", "big"], ["b1"]),
            helper.make_node("MatMul", ["b1", "big"], ["b2"]),
            helper.make_node("ReduceSum", ["b2"], ["total"], keepdims=0),
            helper.make_node("Mul", ["total", "zero"], ["nothing"]),
            helper.make_node("Add", [last, "nothing"], ["slowed"]),
        ]
        last = "slowed"
    nodes.append(helper.make_node("Identity", [last], ["hip_command"]))
    graph = helper.make_graph(
        nodes,
        "test_student",
        [helper.make_tensor_value_info("imu_window", TensorProto.FLOAT, [1, window, channels])],
        [helper.make_tensor_value_info("hip_command", TensorProto.FLOAT, [1, 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    onnx.save(model, path)


@functools.cache
def suite_signing_key() -> tuple[Path, Path]:
    """(private key, trusted-keys file holding its public half), made once per test process."""
    folder = Path(tempfile.mkdtemp(prefix="hipexo-test-keys-"))
    public = new_key(folder / "test-signer.key", "test-signer")
    (folder / "trusted_keys").write_text(f"# the test suite's signer\n{public.line()}\n")
    return folder / "test-signer.key", folder / "trusted_keys"


def make_bundle(
    folder: Path,
    window: int = 10,
    rate_hz: float = 100.0,
    gain: float = 1.0,
    op: str = "identity",
    slow: int = 0,
    signed: bool = True,
    device: dict | None = None,
) -> Path:
    """A signed bundle trained (its manifest's ``shaping``) for hip_exo.yaml with the ``device`` overrides."""
    folder.mkdir(parents=True, exist_ok=True)
    build_model(folder / "student.onnx", window, len(CHANNELS), gain, op, slow)
    spec = FeatureSpec(tuple(CHANNELS), window, rate_hz, (0.0,) * len(CHANNELS), (1.0,) * len(CHANNELS))
    shaping = shaping_section(device_config(device or {}))
    write_manifest(folder, manifest_for(spec, 0.25, shaping=shaping, provenance={"note": "test bundle"}))
    if signed:
        sign_bundle(folder, suite_signing_key()[0])
    return folder


def _merged(section: str, base: str, overrides: dict) -> dict:
    data = yaml.safe_load(default_config(section, base).read_text())
    for key, value in overrides.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return data


def device_config(overrides: dict) -> DeviceConfig:
    data = _merged("device", "hip_exo", overrides)
    data.pop("kind")
    return build(DeviceConfig, data)


def write_config(folder: Path, name: str, section: str, overrides: dict, base: str = "default") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(_merged(section, base, overrides)))
    return path


class RuntimeUnderTest:
    """``hipexo run`` in its own process group, a pty per link, and a feeder thread at ``imu_rate_hz``.

    ``device`` overrides hip_exo.yaml (default :data:`FAST_DEVICE`: give the bundle the same); ``subject``
    overrides :data:`TEST_SUBJECT`.
    """

    def __init__(
        self,
        tmp_path: Path,
        bundle: Path,
        runtime: dict | None = None,
        device: dict | None = None,
        subject: dict | None = None,
        dev_subject: bool = False,
        two_ports: bool = False,
        duration: float | None = None,
        imu_rate_hz: float = 100.0,
        extra_args: tuple[str, ...] = (),
        launcher: tuple[str, ...] = ("-m", "tools.cli"),
        env: dict[str, str] | None = None,
        feed: bool = True,
    ):
        self.tmp_path = tmp_path
        self.imu_pty = PtyPair()
        self.motor_pty = PtyPair() if two_ports else self.imu_pty
        self.imu = FramePeer(self.imu_pty.master)
        self.motor = FramePeer(self.motor_pty.master) if two_ports else self.imu
        self.trial_dir = tmp_path / "trials"
        runtime_defaults = {"realtime_priority": 0}
        runtime_cfg = write_config(tmp_path, "runtime", "runtime", {**runtime_defaults, **(runtime or {})})
        device_cfg = write_config(tmp_path, "device", "device", FAST_DEVICE if device is None else device, "hip_exo")
        subject_cfg = write_config(tmp_path, "subject", "subject", {**TEST_SUBJECT, **(subject or {})})
        command = [
            sys.executable,
            *launcher,
            "run",
            "--bundle",
            str(bundle),
            "--imu-port",
            self.imu_pty.device_path,
        ]
        command += ["--motor-port", self.motor_pty.device_path, "--out", str(self.trial_dir)]
        command += ["--runtime-config", str(runtime_cfg), "--device-config", str(device_cfg)]
        command += ["--dev-subject"] if dev_subject else ["--subject-config", str(subject_cfg)]
        command += ["--trusted-keys", str(suite_signing_key()[1]), *extra_args]
        if duration is not None:
            command += ["--duration", str(duration)]
        self.values = {i: ((0.0, 0.0, 0.0), (0.0, 9.81, 0.0)) for i in IMU_IDS}
        self.paused = not feed
        self.frozen = False
        self._rng = np.random.default_rng(0)
        self.imu_period = 1.0 / imu_rate_hz
        self.sent_imu: list[float] = []
        self._stop = threading.Event()
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()
        self.lines: list[str] = []
        threading.Thread(target=self._collect_output, daemon=True).start()

    def _collect_output(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def set_gyro_z(self, right: float, left: float) -> None:
        """Thigh gyro z of both sides: with the test model, the student's output (times its gain)."""
        self.values[1] = ((0.0, 0.0, right), self.values[1][1])
        self.values[2] = ((0.0, 0.0, left), self.values[2][1])

    def sample(self) -> ImuSample:
        """The set values plus sensor-like noise (1e-4): bit-identical readings would read as a frozen IMU."""
        noise = self._rng.normal(0.0, 1e-4, (len(IMU_IDS), 6))
        return ImuSample(
            tuple(
                ImuReading(
                    i, tuple(np.add(self.values[i][0], noise[k, :3])), tuple(np.add(self.values[i][1], noise[k, 3:]))
                )
                for k, i in enumerate(IMU_IDS)
            )
        )

    def _feed(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            if not self.paused:
                try:
                    self._last = self._last if self.frozen and hasattr(self, "_last") else self.sample()
                    self.imu.send(self._last)
                    self.sent_imu.append(time.monotonic())
                except OSError:
                    pass
            self.imu.poll()
            if self.motor is not self.imu:
                self.motor.poll()
            next_t += self.imu_period
            time.sleep(max(0.0, next_t - time.monotonic()))

    def commands(self) -> list[tuple[float, TorqueCommand]]:
        return [(t, f.message) for t, f in self.motor.frames() if isinstance(f.message, TorqueCommand)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"runtime exited ({self.process.returncode}) waiting for {what}:\n{self.output()}")
            time.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what}; runtime output:\n{self.output(kill=True)}")

    def assisting(self, min_nm: float = 0.5) -> bool:
        commands = self.commands()
        return bool(commands) and commands[-1][1].enabled and abs(commands[-1][1].right_nm) > min_nm

    def signal(self, sig: int) -> None:
        os.killpg(self.process.pid, sig) if sig == signal.SIGKILL else self.process.send_signal(sig)

    def signal_group(self, sig: int) -> None:
        """To every process of the runtime's group, as Ctrl-C at a terminal or systemd's KillMode=control-group."""
        os.killpg(self.process.pid, sig)

    def group_alive(self, grace_s: float = 1.0) -> bool:
        """Whether a live process (the logger child among them) is left in the runtime's process group after
        ``grace_s``; exited ones waiting to be reaped (zombies) do not count."""
        deadline = time.monotonic() + grace_s
        while True:
            alive = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[2]) == self.process.pid and fields[0] != "Z":
                    alive.append(stat.parent.name)
            if not alive or time.monotonic() > deadline:
                return bool(alive)
            time.sleep(0.02)

    def finish(self, timeout: float = 15.0) -> int:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"runtime still running {timeout} s after the stop; output:\n{self.output()}") from exc
        finally:
            self._stop.set()
            self._thread.join(2.0)
            self.imu.poll()
        return self.process.returncode

    def output(self, kill: bool = False) -> str:
        if kill and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        time.sleep(0.1)
        return "".join(self.lines)

    def log(self) -> TrialLog:
        (path,) = sorted(self.trial_dir.glob("*.mcap"))
        return read_trial(path)

    def close(self) -> None:
        self._stop.set()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.imu_pty.close()
        if self.motor_pty is not self.imu_pty:
            self.motor_pty.close()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A signed bundle for the fast test device (a module may define its own ``bundle`` instead)."""
    return make_bundle(tmp_path_factory.mktemp("bundle"), device=FAST_DEVICE)


@pytest.fixture
def bench(tmp_path, bundle):
    """Starts runtimes under test, each in its own folder of ``tmp_path``; closes them all afterwards."""
    runs: list[RuntimeUnderTest] = []

    def start(**kwargs) -> RuntimeUnderTest:
        folder = tmp_path / f"run{len(runs)}"
        folder.mkdir()
        run = RuntimeUnderTest(folder, kwargs.pop("bundle", bundle), **kwargs)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.close()
