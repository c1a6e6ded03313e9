"""``hipexo bench``: the real runtime process against a simulated IMU and an emulated motor controller.

The bench owns pty pairs and exposes each through a stable symlink (``imu_port``, ``motor_port``), as udev does
for USB adapters; a *disconnect* fault closes the IMU pairs and, at its end, points the links at new ones, so the
runtime sees a port vanish and come back. For a device whose IMUs are Xsens MTis (``imu_link.protocol:
xsens_mtdata2``) each IMU has its own port (``imu_port_<name>``) carrying MTData2, with every fault applied to
each port alike. One loop at the IMU rate (absolute deadlines)
writes IMU frames, applies the scheduled faults, and services the motor-controller emulator.
"""

from __future__ import annotations

import gc
import math
import os
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from firmware_bridge.config import DeviceConfig, SubjectConfig
from firmware_bridge.config.paths import REPO_ROOT, SHARED_DATA_DIR
from firmware_bridge.protocol.frame import encode_frame
from firmware_bridge.protocol.messages import ControllerFault, ImuReading, ImuSample
from firmware_bridge.protocol.xsens_mtdata2 import SAMPLE_TIME_FINE_US, MtData2, encode_mtdata2
from firmware_bridge.runtime.realtime import freeze_garbage_collector
from hil.motor_emulator import MotorControllerEmulator
from hil.pty_link import FramePeer, PtyPair
from hil.scenario import BenchScenario, FaultSpec
from hil.sources import ImuSource, RecordingSource, TrialReplaySource
from hil.supervisor import Supervised

STARTUP_TIMEOUT_S = 30.0
FADE_GRACE_S = 1.5


@dataclass
class BenchRun:
    """Everything measured on the bench side; the runtime's own view is in its trial log."""

    scenario: BenchScenario
    trial_path: Path
    runtime_output: str
    returncode: int
    imu_writes: dict[int, float] = field(default_factory=dict)
    """IMU frame seq → bench time written (s)."""
    commands: list = field(default_factory=list)
    """Commands received by the emulator (ReceivedCommand)."""
    fault_windows: list[tuple[FaultSpec, float, float]] = field(default_factory=list)
    """(fault, start, end) in bench time."""
    start_s: float = 0.0
    wall_offset_s: float = 0.0
    """Wall clock minus the bench's monotonic clock (the trial log is stamped in wall time)."""
    source: ImuSource | None = None
    """The IMU source as it ended (a closed-loop walker holds what it did)."""


def make_source(scenario: BenchScenario, device: DeviceConfig, subject: SubjectConfig) -> ImuSource:
    path = Path(scenario.source.path)
    if scenario.source.kind == "trial":
        return TrialReplaySource(path, scenario.imu_rate_hz)
    if scenario.source.kind == "walker":
        from hil.walker_source import SimulatedWalkerSource

        s = scenario.source
        return SimulatedWalkerSource(
            path if path.is_absolute() else REPO_ROOT / path,
            device,
            subject,
            scenario.imu_rate_hz,
            scenario.duration_s + FADE_GRACE_S,  # it walks on while the runtime fades out
            s.speed_m_s,
            s.slope_deg,
            s.seed,
            s.root_support_fraction,
            s.episode_s,
        )
    folder = path if path.is_absolute() else SHARED_DATA_DIR / path
    return RecordingSource(folder, device, scenario.imu_rate_hz, loop=True, alignment=scenario.source.alignment)


class _Link:
    """A pty pair behind a symlink that can be unplugged and plugged back."""

    def __init__(self, link: Path):
        self.link = link
        self.pair: PtyPair | None = None
        self.peer: FramePeer | None = None
        self.plug()

    def plug(self) -> None:
        self.pair = PtyPair()
        self.peer = FramePeer(self.pair.master)
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.pair.device_path)
        os.replace(tmp, self.link)

    def unplug(self) -> None:
        self.link.unlink(missing_ok=True)
        if self.pair is not None:
            self.pair.close()
        self.pair = self.peer = None

    def close(self) -> None:
        self.unplug()


class ImuWire:
    """The bench's IMU ports, speaking what the device config's ``imu_link.protocol`` says: one port with every
    IMU in hipexo frames, or one port per IMU, each an Xsens MTi sending MTData2 (``imu_port_<name>``)."""

    def __init__(self, device: DeviceConfig, work_dir: Path):
        self.xsens = device.imu_link.protocol == "xsens_mtdata2"
        if self.xsens:
            self.names = {imu.imu_id: imu.name for imu in device.imus}
            self.links = {name: _Link(work_dir / f"imu_port_{name}") for name in self.names.values()}
        else:
            self.links = {"": _Link(work_dir / "imu_port")}

    def runtime_args(self) -> list[str]:
        """``hipexo run``'s ``--imu-port`` arguments for these ports."""
        args = []
        for name, link in self.links.items():
            args += ["--imu-port", f"{name}={link.link}" if name else str(link.link)]
        return args

    def encode(self, message: ImuSample, seq: int, device_us: int) -> dict[str, bytes]:
        """Each port's bytes for one sample: ``seq`` is every MTi's PacketCounter, ``device_us`` its
        SampleTimeFine (10 kHz ticks)."""
        if not self.xsens:
            return {"": encode_frame(message, seq, device_us & 0xFFFFFFFF)}
        ticks = device_us // SAMPLE_TIME_FINE_US
        return {
            self.names[r.imu_id]: encode_mtdata2(MtData2(r.gyro, r.accel, seq & 0xFFFF, ticks & 0xFFFFFFFF))
            for r in message.readings
            if r.imu_id in self.names
        }

    @property
    def plugged(self) -> bool:
        return all(link.peer is not None for link in self.links.values())

    def plug(self) -> None:
        for link in self.links.values():
            link.plug()

    def unplug(self) -> None:
        for link in self.links.values():
            link.unplug()


class RuntimeExited(RuntimeError):
    """The runtime ended before the bench stopped it (or never started): the bench FAILs with this reason."""

    def __init__(self, reason: str, refused_code: int | None = None) -> None:
        super().__init__(reason)
        self.refused_code = refused_code
        """The runtime's exit code when it refused to start (2: the bench's input is at fault, not the device)."""


def run_bench(
    scenario: BenchScenario,
    controller_args: list[str],
    work_dir: Path,
    device: DeviceConfig,
    subject: SubjectConfig,
    config_paths: dict[str, Path],
    progress=None,
) -> BenchRun:
    """``config_paths``: the runtime's ``runtime``, ``device`` and ``subject`` config files.

    The runtime is :class:`hil.supervisor.Supervised`: whatever ends the bench (its end, an exception, Ctrl-C or
    SIGTERM raised here as ``KeyboardInterrupt``) stops it the safe way before this returns or raises.
    """
    work_dir = Path(work_dir).absolute()  # the runtime resolves nothing against the bench's directory
    work_dir.mkdir(parents=True, exist_ok=True)
    source = make_source(scenario, device, subject)
    wire = ImuWire(device, work_dir)
    motor_link = _Link(work_dir / "motor_port")
    emulator = MotorControllerEmulator(
        motor_link.peer, scenario.emulator.watchdog_s, scenario.emulator.tau_s, scenario.emulator.limit_nm
    )
    trial_dir = work_dir / "trials"
    paths = {name: Path(p).absolute() for name, p in config_paths.items()}
    command = [sys.executable, "-m", "tools.cli", "run", *controller_args, *wire.runtime_args()]
    command += ["--motor-port", str(motor_link.link), "--out", str(trial_dir)]
    command += ["--runtime-config", str(paths["runtime"]), "--device-config", str(paths["device"])]
    command += ["--subject-config", str(paths["subject"])]
    command += ["--condition", "hil-bench", "--notes", f"source {scenario.source.kind}:{scenario.source.path}"]
    runtime = Supervised(command, work_dir / "runtime_output.txt")
    freeze_garbage_collector()  # a collection pass mid-stream would stall the bench's IMU clock
    try:
        run = _stream(scenario, source, wire, emulator, runtime, trial_dir, progress)
    finally:
        gc.enable()
        if runtime.poll() is None:  # the bench is failing or interrupted: fade the runtime out, wait for it
            runtime.stop(FADE_GRACE_S + 5, lambda deadline: _serve_until(deadline, emulator))
        wire.unplug()
        motor_link.close()
    run.source = source
    run.runtime_output = runtime.output()
    run.returncode = runtime.poll()
    trials = sorted(trial_dir.glob("*.mcap"))
    if not trials:
        raise RuntimeExited(f"the runtime wrote no trial log ({runtime.exit_reason()})")
    run.trial_path = trials[-1]
    return run


def _serve_until(deadline: float, emulator: MotorControllerEmulator) -> None:
    """Until the next IMU period: answer the runtime's commands the moment they arrive (as firmware would)."""
    fd = emulator.peer.fd
    last = time.monotonic()
    emulator.service(last, 0.0)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        select.select([fd], [], [], remaining)
        now = time.monotonic()
        emulator.service(now, now - last)
        last = now


def _stream(scenario, source, wire: ImuWire, emulator, runtime: Supervised, trial_dir, progress) -> BenchRun:
    run = BenchRun(scenario, Path(), "", 0)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not (trial_dir.exists() and any(trial_dir.glob("*.mcap"))):  # the runtime has loaded and is logging
        if runtime.poll() is not None:
            raise RuntimeExited(f"the runtime did not start ({runtime.exit_reason()})", runtime.poll())
        if time.monotonic() > deadline:
            raise RuntimeExited(f"the runtime did not start within {STARTUP_TIMEOUT_S:g} s")
        time.sleep(0.05)
    period = 1.0 / scenario.imu_rate_hz
    drift = 1.0 + scenario.clock_drift_ppm * 1e-6
    start = time.monotonic()
    run.start_s = start
    run.wall_offset_s = time.time() - start
    faults = sorted(scenario.faults, key=lambda f: f.at_s)
    run.fault_windows = [(f, start + f.at_s, start + f.at_s + f.duration_s) for f in faults]
    held: dict[str, list[bytes]] = {name: [] for name in wire.links}
    previous: dict[str, bytes | None] = dict.fromkeys(wire.links)
    frozen: ImuSample | None = None
    seq = 0
    k = 0
    upcoming = source.sample(0)
    stop_sent_at = None
    while True:
        now = time.monotonic()
        t = now - start
        active = {f.type for f, a, b in run.fault_windows if a <= now < b}
        ended = [f for f, a, b in run.fault_windows if b <= now and b > now - period]
        if stop_sent_at is None and runtime.poll() is not None:
            raise RuntimeExited(f"the runtime exited {t:.1f} s into the run ({runtime.exit_reason()})")
        if stop_sent_at is None and t >= scenario.duration_s:
            runtime.signal(signal.SIGTERM)
            stop_sent_at = now
        if stop_sent_at is not None and (runtime.poll() is not None or now - stop_sent_at > FADE_GRACE_S + 5):
            break
        emulator.estop = "estop" in active
        emulator.injected_fault_bits = ControllerFault.OVER_TEMPERATURE if "motor_fault" in active else 0
        if "disconnect" in active and wire.plugged:
            wire.unplug()
        if not wire.plugged and "disconnect" not in active:
            wire.plug()
        # Frames go out on the tick; the next sample is computed after, so a slow source (the simulated walker)
        # does not push the write time around within the period. They go on through the runtime's fade-out:
        # the IMUs do not stop when the runtime is told to.
        sample = upcoming
        if sample is not None:
            readings = tuple(ImuReading(i, g, a) for i, (g, a) in sorted(sample.items()))
            if "nan" in active:
                readings = tuple(r._replace(gyro=(math.nan, r.gyro[1], r.gyro[2])) for r in readings)
            message = ImuSample(readings)
            if "frozen" in active:
                frozen = frozen or message
                message = frozen
            else:
                frozen = None
            device_us = round(t * drift * 1e6)
            wrote = False
            for name, frame in wire.encode(message, seq, device_us).items():
                frames = _faulted(frame, active, held[name], previous, name)
                peer = wire.links[name].peer
                if peer is None:
                    continue
                for data in frames:
                    try:
                        peer.write_raw(data)
                    except OSError:
                        break
                wrote = wrote or bool(frames)
                peer.poll()
            if wrote and "corrupt" not in active:
                run.imu_writes.setdefault(seq, now)
            seq = (seq + 1) % 65536
        if ended:
            previous = dict.fromkeys(wire.links)
        if progress is not None:
            progress(min(t, scenario.duration_s))
        source.apply_torque(*emulator.measured)  # the actuator's torque acts on a closed-loop source
        upcoming = source.sample(k + 1)
        k += 1
        _serve_until(start + k * period, emulator)
    if runtime.poll() is None:  # it did not fade out and exit in time
        runtime.stop(1.0)
    run.commands = emulator.commands
    return run


def _faulted(
    frame: bytes, active: set[str], held: list[bytes], previous: dict[str, bytes | None], name: str
) -> list[bytes]:
    """What one IMU port sends for ``frame`` under the active faults (``held`` and ``previous`` carry the delayed
    and the swapped frames from one period to the next)."""
    frames = [frame]
    if "corrupt" in active:  # byte 5 is inside both protocols' checked bytes: a CRC or checksum error
        frames = [frame[:5] + bytes([frame[5] ^ 0xFF]) + frame[6:]]
    if "duplicate_seq" in active:
        frames = [frame, frame]
    if "out_of_order" in active:
        if previous[name] is None:
            previous[name], frames = frame, []
        else:
            frames, previous[name] = [frame, previous[name]], None
    if "delay_burst" in active:
        held += frames
        frames = []
    elif held:
        frames = [*held, *frames]
        held.clear()
    if "imu_loss" in active:
        frames = []
    return frames
