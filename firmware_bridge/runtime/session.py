"""Start-up and shut-down around the loop: configs, bundle, ports, trial log, signals, real-time setup.

This is what ``hipexo run`` calls; everything here runs on the device computer with the base install.

Stop signals are caught before the trial logger starts and until it has finished the file, so SIGINT or
SIGTERM at any moment (to the runtime alone or to its whole process group) ends in a fade-out that the
log records, and the logger child is never left behind (firmware_bridge/trial/writer.py).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from firmware_bridge.baseline import BaselineConfig, BaselineController
from firmware_bridge.bundle import MANIFEST, load_bundle
from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig, load_config
from firmware_bridge.mounting import mounting_corrections
from firmware_bridge.runtime.controller import OnnxStudent
from firmware_bridge.runtime.imu_ports import ImuPort, decoder_for
from firmware_bridge.runtime.link import SerialLink
from firmware_bridge.runtime.loop import DeviceRuntime, RunSummary
from firmware_bridge.runtime.realtime import configure_process, freeze_garbage_collector
from firmware_bridge.signing import Trust
from firmware_bridge.trial.writer import LoggerStartError, TrialLogger

if TYPE_CHECKING:
    from firmware_bridge.trial.live import LiveAddress


class StartupError(RuntimeError):
    """The runtime cannot start (bad bundle, port, config); nothing was commanded."""


@dataclass
class TrialInfo:
    subject_id: str = ""
    condition: str = ""
    speed_m_s: str = ""
    slope_deg: str = ""
    notes: str = ""

    @classmethod
    def from_file(cls, path: Path) -> TrialInfo:
        data = yaml.safe_load(Path(path).read_text()) or {}
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise StartupError(
                f"{path}: unknown trial fields {sorted(unknown)}; allowed: {list(cls.__dataclass_fields__)}"
            )
        return cls(**{k: str(v) for k, v in data.items()})


def trial_path(trial_dir: Path, info: TrialInfo) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    suffix = f"_{info.subject_id}" if info.subject_id else ""
    return Path(trial_dir) / f"trial_{stamp}{suffix}.mcap"


@dataclass
class ControllerChoice:
    """Either a student bundle directory (accepted under ``trust``) or the baseline controller's config."""

    bundle_dir: Path | None = None
    baseline_config: Path | None = None
    trust: Trust = field(default_factory=Trust)
    accept_shaping_mismatch: bool = False
    """Run a bundle trained with other shaping or limits than the device's (logged at every start)."""


@dataclass(frozen=True)
class SubjectChoice:
    """Who wears the device, and where that came from (a subject file, or the development subject)."""

    config: SubjectConfig
    source: str
    development: bool = False

    def metadata(self) -> dict[str, str]:
        c = self.config
        return {
            "subject_id": c.subject_id,
            "body_mass_kg": f"{c.body_mass_kg:g}",
            "height_m": f"{c.height_m:g}",
            "source": self.source,
            "development_subject": str(self.development).lower(),
            # measured mountings the runtime undoes (roll-pitch-yaw degrees); {}: the device's nominal ones
            "imu_mounting": json.dumps({name: m.rpy_deg for name, m in c.imu_mounting.items()}),
        }


@dataclass
class SessionResult:
    summary: RunSummary
    path: Path
    log_complete: bool
    """The logger finished the file (summary and index); False when it died or had to be killed."""


def _controller(choice: ControllerChoice, runtime: RuntimeConfig, device: DeviceConfig):
    """(controller, feature spec, source, trial metadata, attachments, warnings) for the chosen controller."""
    if choice.bundle_dir is not None:
        bundle = load_bundle(
            choice.bundle_dir,
            runtime,
            device,
            trust=choice.trust,
            accept_shaping_mismatch=choice.accept_shaping_mismatch,
        )
        metadata = {
            "bundle_manifest": {"json": json.dumps(bundle.manifest)},
            "bundle_signature": {"status": bundle.signature.describe()},
        }
        attachments = {MANIFEST: (Path(choice.bundle_dir) / MANIFEST).read_bytes()}
        warnings = [f"OVERRIDE --accept-shaping-mismatch: running despite {m}" for m in bundle.shaping_mismatches]
        source = str(Path(choice.bundle_dir).resolve())
        return OnnxStudent(bundle), bundle.features, source, metadata, attachments, warnings
    config = load_config(choice.baseline_config, BaselineConfig)
    controller = BaselineController(config, device.command_full_scale_nm_per_kg)
    features = BaselineController.feature_spec(config, runtime.loop_rate_hz)
    text = Path(choice.baseline_config).read_text()
    return controller, features, f"baseline ({choice.baseline_config})", {"config_baseline": {"yaml": text}}, {}, []


def _open_links(
    imu_ports: list[ImuPort], motor_port: str, runtime: RuntimeConfig, device: DeviceConfig
) -> tuple[list[SerialLink], SerialLink]:
    """The IMU links (one per port, each with its protocol's decoder) and the motor link, which shares a hipexo
    IMU port given the same path (:func:`resolve_motor_port`); every link opened, or none and a
    :class:`StartupError`."""
    reconnect = runtime.watchdog.reconnect_interval_s
    imu_baud = device.imu_link.baud or runtime.baud
    opened: list[SerialLink] = []

    def open_link(path: str, baud: int, what: str, **kwargs) -> SerialLink:
        link = SerialLink(path, baud, reconnect, **kwargs)
        if not link.is_open:
            for other in opened:
                other.close()
            raise StartupError(f"{what} port: {link.error}")
        opened.append(link)
        return link

    imu_links = [open_link(p.path, imu_baud, f"IMU {p.imu or ''}".strip(), decoder=decoder_for(p)) for p in imu_ports]
    shared = [link for link, p in zip(imu_links, imu_ports, strict=True) if p.path == motor_port]
    motor_link = shared[0] if shared else open_link(motor_port, runtime.baud, "motor")
    return imu_links, motor_link


def run_session(
    choice: ControllerChoice,
    imu_ports: list[ImuPort],
    motor_port: str,
    runtime: RuntimeConfig,
    device: DeviceConfig,
    subject: SubjectChoice,
    trial_dir: Path,
    info: TrialInfo,
    duration_s: float | None,
    config_texts: dict[str, str],
    say=print,
    live: LiveAddress | None = None,
) -> SessionResult:
    """``live``: also serve the trial's channels to Foxglove from the logger's side (``trial/live.py``)."""
    controller, features, controller_source, controller_metadata, attachments, warnings = _controller(
        choice, runtime, device
    )
    if subject.development:
        warnings.append(
            f"DEVELOPMENT SUBJECT {subject.config.subject_id!r} ({subject.config.body_mass_kg:g} kg) IS IN USE: "
            "torque is scaled for that body mass, not for the person wearing the device"
        )
    if choice.trust.allow_unsigned:
        warnings.append(
            "DEVELOPMENT FLAG allow_unsigned IS ON: this device would run unsigned bundles; "
            f"controller {controller_source}: {controller_metadata.get('bundle_signature', {}).get('status', 'not a bundle')}"
        )
    mounting_corrections(device, subject.config, subject.source)  # refuse a calibration the device cannot use
    imu_links, motor_link = _open_links(imu_ports, motor_port, runtime, device)

    def on_event(kind: str, text: str) -> None:
        say(f"[{kind}] {text}")

    loop = DeviceRuntime(runtime, device, subject.config, controller, features, imu_links, motor_link, None, on_event)

    def on_signal(signum: int, frame: object) -> None:
        loop.request_stop(f"signal {signal.Signals(signum).name}")

    def on_marker(signum: int, frame: object) -> None:
        loop.mark("SIGUSR1")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, on_marker)
    try:
        path = trial_path(trial_dir, info)
        metadata = {
            "trial": {
                **{k: v for k, v in asdict(info).items() if v},
                "subject_id": subject.config.subject_id,
                "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "controller": controller.name,
                "controller_source": controller_source,
                "imu_port": ", ".join(p.describe() for p in imu_ports),
                "imu_protocol": device.imu_link.protocol,
                "motor_port": motor_port,
            },
            "subject": subject.metadata(),
            **controller_metadata,
            **{f"config_{name}": {"yaml": text} for name, text in config_texts.items()},
        }
        wall_offset = time.time_ns() - time.monotonic_ns()
        try:
            logger = TrialLogger(
                path, metadata, attachments, runtime.log_queue_size, wall_offset, device.imu_ids(), live
            )
        except LoggerStartError as exc:
            raise StartupError(str(exc)) from exc
        loop.logger = logger
        try:
            for message in warnings:
                logger.event(time.monotonic_ns(), "warning", message)
                say(f"[warning] {message}")
            applied, refused = configure_process(runtime.realtime_priority, list(runtime.cpu_affinity))
            if applied:
                logger.event(time.monotonic_ns(), "info", "real-time setup: " + ", ".join(applied))
            if refused:
                message = "real-time setup not available, running without: " + "; ".join(refused)
                logger.event(time.monotonic_ns(), "warning", message)
                say(f"[warning] {message}")
            threading.Thread(target=_stdin_markers, args=(loop,), daemon=True, name="stdin-markers").start()
            freeze_garbage_collector()
            summary = loop.run(duration_s)
        finally:
            complete = logger.close()
    finally:
        for link in {id(link): link for link in (*imu_links, motor_link)}.values():
            link.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return SessionResult(summary, path, complete)


def _stdin_markers(loop: DeviceRuntime) -> None:
    """Each line typed (or piped) on stdin becomes an event marker in the trial log."""
    if sys.stdin is None:
        return
    for line in sys.stdin:
        text = line.strip()
        if text:
            loop.mark(text)
