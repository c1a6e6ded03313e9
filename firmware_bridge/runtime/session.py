"""Start-up and shut-down around the loop: configs, bundle, ports, trial log, signals, real-time setup.

This is what ``hipexo run`` calls; everything here runs on the device computer with the base install.
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

import yaml

from firmware_bridge.baseline import BaselineConfig, BaselineController
from firmware_bridge.bundle import MANIFEST, load_bundle
from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig, load_config
from firmware_bridge.runtime.controller import OnnxStudent
from firmware_bridge.runtime.link import SerialLink
from firmware_bridge.runtime.loop import DeviceRuntime, RunSummary
from firmware_bridge.runtime.realtime import configure_process, freeze_garbage_collector
from firmware_bridge.signing import Trust
from firmware_bridge.trial.writer import TrialLogger


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


def _controller(choice: ControllerChoice, runtime: RuntimeConfig, device: DeviceConfig):
    """(controller, feature spec, trial metadata, attachments) for the chosen controller."""
    if choice.bundle_dir is not None:
        bundle = load_bundle(choice.bundle_dir, runtime, device, trust=choice.trust)
        metadata = {
            "bundle_manifest": {"json": json.dumps(bundle.manifest)},
            "bundle_signature": {"status": bundle.signature.describe()},
        }
        attachments = {MANIFEST: (Path(choice.bundle_dir) / MANIFEST).read_bytes()}
        return OnnxStudent(bundle), bundle.features, str(Path(choice.bundle_dir).resolve()), metadata, attachments
    config = load_config(choice.baseline_config, BaselineConfig)
    controller = BaselineController(config, device.command_full_scale_nm_per_kg)
    features = BaselineController.feature_spec(config, runtime.loop_rate_hz)
    text = Path(choice.baseline_config).read_text()
    return controller, features, f"baseline ({choice.baseline_config})", {"config_baseline": {"yaml": text}}, {}


def run_session(
    choice: ControllerChoice,
    imu_port: str,
    motor_port: str,
    runtime: RuntimeConfig,
    device: DeviceConfig,
    subject: SubjectConfig,
    trial_dir: Path,
    info: TrialInfo,
    duration_s: float | None,
    config_texts: dict[str, str],
    say=print,
) -> tuple[RunSummary, Path]:
    controller, features, controller_source, controller_metadata, attachments = _controller(choice, runtime, device)
    imu_link = SerialLink(imu_port, runtime.baud, runtime.watchdog.reconnect_interval_s)
    if not imu_link.is_open:
        raise StartupError(f"IMU port: {imu_link.error}")
    if motor_port == imu_port:
        motor_link = imu_link
    else:
        motor_link = SerialLink(motor_port, runtime.baud, runtime.watchdog.reconnect_interval_s)
        if not motor_link.is_open:
            imu_link.close()
            raise StartupError(f"motor port: {motor_link.error}")
    path = trial_path(trial_dir, info)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    metadata = {
        "trial": {
            **{k: v for k, v in asdict(info).items() if v},
            "subject_id": info.subject_id or subject.subject_id,
            "started_utc": started,
            "controller": controller.name,
            "controller_source": controller_source,
            "imu_port": imu_port,
            "motor_port": motor_port,
        },
        **controller_metadata,
        **{f"config_{name}": {"yaml": text} for name, text in config_texts.items()},
    }
    wall_offset = time.time_ns() - time.monotonic_ns()
    logger = TrialLogger(path, metadata, attachments, runtime.log_queue_size, wall_offset)

    def on_event(kind: str, text: str) -> None:
        say(f"[{kind}] {text}")

    if choice.trust.allow_unsigned:
        message = (
            "DEVELOPMENT FLAG allow_unsigned IS ON: this device would run unsigned bundles; "
            f"controller {controller_source}: {metadata.get('bundle_signature', {}).get('status', 'not a bundle')}"
        )
        logger.event(time.monotonic_ns(), "warning", message)
        say(f"[warning] {message}")

    loop = DeviceRuntime(runtime, device, subject, controller, features, imu_link, motor_link, logger, on_event)
    applied, refused = configure_process(runtime.realtime_priority, list(runtime.cpu_affinity))
    if applied:
        logger.event(time.monotonic_ns(), "info", "real-time setup: " + ", ".join(applied))
    if refused:
        message = "real-time setup not available, running without: " + "; ".join(refused)
        logger.event(time.monotonic_ns(), "warning", message)
        say(f"[warning] {message}")

    def on_signal(signum: int, frame: object) -> None:
        loop.request_stop(f"signal {signal.Signals(signum).name}")

    def on_marker(signum: int, frame: object) -> None:
        loop.mark("SIGUSR1")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, on_marker)
    threading.Thread(target=_stdin_markers, args=(loop,), daemon=True, name="stdin-markers").start()
    freeze_garbage_collector()
    try:
        summary = loop.run(duration_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        logger.close()
        imu_link.close()
        motor_link.close()
    return summary, path


def _stdin_markers(loop: DeviceRuntime) -> None:
    """Each line typed (or piped) on stdin becomes an event marker in the trial log."""
    if sys.stdin is None:
        return
    for line in sys.stdin:
        text = line.strip()
        if text:
            loop.mark(text)
