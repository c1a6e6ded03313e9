"""``hipexo run``: the device runtime (student loop over serial) with a trial log.

Exit codes (tools/errors.py): 0 stopped as asked (signal or --duration) with the torque faded to zero and
the log closed; 1 the run ended but a check failed (no IMU frame ever arrived, the trial log could not be
finished); 2 refused to start (config, bundle, subject, port: nothing was commanded); 3 internal error
(zero torque sent, the reason logged).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_bridge.config.paths import default_config
from tools.vocabulary import add_renamed

if TYPE_CHECKING:
    from firmware_bridge.trial.live import LiveAddress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the student on the device: IMUs in, torque commands out")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--bundle", type=Path, help="student bundle directory (docs/bundle.md)")
    which.add_argument(
        "--device-root",
        type=Path,
        metavar="DIR",
        help="run DIR/current with DIR's trusted keys and configs ('hipexo device install', docs/deploy.md)",
    )
    which.add_argument(
        "--baseline",
        type=Path,
        nargs="?",
        const=default_config("controller", "baseline"),
        help="run the baseline controller instead (default configs/controller/baseline.yaml)",
    )
    parser.add_argument(
        "--imu-port",
        action="append",
        default=[],
        metavar="PATH | NAME=PATH",
        help="serial port of the IMU stream (or runtime config); for an Xsens device (imu_link.protocol "
        "xsens_mtdata2) one NAME=PATH per IMU (or the device config's imus[].port)",
    )
    parser.add_argument(
        "--motor-port", default=None, help="serial port of the motor controller (may equal a hipexo --imu-port)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="run this long, then fade out and exit (default: run until a signal)",
    )
    add_renamed(
        parser,
        "--out",
        ["--trial-dir"],
        type=Path,
        default=Path("trials"),
        metavar="DIR",
        help="where the trial log goes",
    )
    parser.add_argument(
        "--trusted-keys", type=Path, default=None, help="signers whose bundles may run (or the runtime config's)"
    )
    parser.add_argument(
        "--allow-unsigned", action="store_true", help="DEVELOPMENT ONLY: run an unsigned bundle (warned at every start)"
    )
    parser.add_argument("--runtime-config", type=Path, default=None, help="(default: the device root's, or embedded)")
    parser.add_argument("--device-config", type=Path, default=None, help="(default: the device root's, or embedded)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument(
        "--subject-config", type=Path, default=None, help="the wearer: kind: subject with subject_id and body_mass_kg"
    )
    who.add_argument(
        "--dev-subject",
        action="store_true",
        help="DEVELOPMENT ONLY: no wearer, use the simulated subject (configs/subject/default.yaml); warned and logged",
    )
    parser.add_argument(
        "--accept-shaping-mismatch",
        action="store_true",
        help="run a bundle trained with other shaping/limits than the device config's (logged at every start)",
    )
    add_live_option(parser)
    meta = parser.add_argument_group("trial metadata (stored in the log)")
    meta.add_argument("--trial-meta", type=Path, default=None, help="YAML with any of the fields below")
    meta.add_argument("--subject-id", default=None, help="the wearer's id (must match the subject config's)")
    meta.add_argument("--condition", default=None, help="e.g. exo-on, exo-off, zero-torque")
    meta.add_argument("--speed", default=None, help="walking speed, m/s")
    meta.add_argument("--slope", default=None, help="slope, degrees")
    meta.add_argument("--notes", default=None, help="free text")
    parser.set_defaults(func=run_runtime)


def add_live_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--live",
        nargs="?",
        const="",  # --live alone: LiveAddress's defaults
        default=None,
        metavar="[HOST:]PORT",
        help="also serve the trial's channels to Foxglove over WebSocket (default 8765 on every interface; "
        "the 'live' extra; docs/runtime.md)",
    )


def live_address(text: str | None) -> LiveAddress | None:
    """``--live``'s address, or None without it; one line naming the extra when foxglove-sdk is missing."""
    if text is None:
        return None
    from firmware_bridge.trial.live import LiveAddress
    from tools.errors import UserError
    from tools.extras import extra_providing

    try:
        address = LiveAddress.parse(text) if text else LiveAddress()
    except ValueError as exc:
        raise UserError(f"--live {text}: {exc}") from None
    if importlib.util.find_spec("foxglove") is None:
        extra = extra_providing("foxglove-sdk") or "live"
        raise UserError(f"--live needs the '{extra}' extra (foxglove-sdk is missing): pip install 'hipexo[{extra}]'")
    return address


def run_runtime(args: argparse.Namespace) -> int:
    from firmware_bridge.bundle import BundleError
    from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig, check_pair, load_config
    from firmware_bridge.config.schema import self_contained_text
    from firmware_bridge.runtime.imu_ports import ImuPortError, resolve_imu_ports, resolve_motor_port
    from firmware_bridge.runtime.session import (
        ControllerChoice,
        StartupError,
        SubjectChoice,
        TrialInfo,
        run_session,
    )
    from firmware_bridge.signing import Trust, TrustError
    from tools.errors import ExitCode, UserError

    live = live_address(args.live)
    if args.device_root:
        from firmware_bridge.device_root import DeviceRoot

        root = DeviceRoot(args.device_root)
        if root.active() is None:
            raise UserError(f"{args.device_root}: no student installed ('hipexo device install')")
        args.bundle = root.current.resolve()
        args.trusted_keys = args.trusted_keys or (root.trusted_keys if root.trusted_keys.is_file() else None)
        args.runtime_config = args.runtime_config or root.runtime_config_path
        args.device_config = args.device_config or root.device_config_path
    args.runtime_config = args.runtime_config or default_config("runtime")
    args.device_config = args.device_config or default_config("device", "hip_exo")
    if args.subject_config is None and not args.dev_subject:
        raise UserError(
            "no subject: pass --subject-config FILE (kind: subject, with subject_id and body_mass_kg of the person "
            "wearing the device), or --dev-subject to run with the simulated development subject"
        )
    subject_path = args.subject_config or default_config("subject")
    runtime = load_config(args.runtime_config, RuntimeConfig)
    device = load_config(args.device_config, DeviceConfig)
    check_pair(runtime, str(args.runtime_config), device, str(args.device_config))
    subject = SubjectChoice(
        load_config(subject_path, SubjectConfig),
        "--dev-subject" if args.dev_subject else str(Path(subject_path).resolve()),
        args.dev_subject,
    )
    try:
        imu_ports = resolve_imu_ports(device, str(args.device_config), args.imu_port, runtime.imu_port)
        motor_port = resolve_motor_port(imu_ports, args.motor_port, runtime.motor_port)
    except ImuPortError as exc:
        raise UserError(str(exc)) from exc
    try:
        trust = Trust.from_file(
            args.trusted_keys or runtime.trusted_keys_file, args.allow_unsigned or runtime.allow_unsigned_bundles
        )
        info = TrialInfo.from_file(args.trial_meta) if args.trial_meta else TrialInfo()
        for field, value in (
            ("subject_id", args.subject_id),
            ("condition", args.condition),
            ("speed_m_s", args.speed),
            ("slope_deg", args.slope),
            ("notes", args.notes),
        ):
            if value is not None:
                setattr(info, field, value)
        if info.subject_id and info.subject_id != subject.config.subject_id:
            raise UserError(
                f"subject_id {info.subject_id!r} (trial metadata) is not the subject config's "
                f"{subject.config.subject_id!r} ({subject.source}): pass the wearer's own subject config"
            )
        texts = {
            name: self_contained_text(p)
            for name, p in (("runtime", args.runtime_config), ("device", args.device_config), ("subject", subject_path))
        }
        result = run_session(
            ControllerChoice(args.bundle, args.baseline, trust, args.accept_shaping_mismatch),
            imu_ports,
            motor_port,
            runtime,
            device,
            subject,
            args.out,
            info,
            args.duration,
            texts,
            say=lambda line: print(line, flush=True),
            live=live,
        )
    except (BundleError, StartupError, TrustError) as exc:
        raise UserError(str(exc)) from exc
    summary = result.summary
    print(
        f"stopped ({summary.error or summary.stop_reason}): {summary.cycles} cycles, {summary.imu_frames} IMU frames, "
        f"{summary.bad_frames} bad frames, {summary.overruns} overruns, {summary.skipped} skipped periods, "
        f"{len(summary.faults)} faults, {summary.log_drops} log drops; trial log {result.path}",
        flush=True,
    )
    for episode in summary.faults:
        print(f"  fault at {episode.describe(summary.started_ns)}", flush=True)
    if summary.error:
        print(f"hipexo: internal error: {summary.error} (zero torque sent)", file=sys.stderr, flush=True)
        return ExitCode.INTERNAL
    failed = []
    if summary.imu_frames == 0:
        ports = ", ".join(p.describe() for p in imu_ports)
        failed.append(f"no IMU frame arrived on {ports} during the run (IMU firmware off, or the wrong port?)")
    if not result.log_complete:
        failed.append(f"the trial log {result.path} was not finished (see 'hipexo trial recover')")
    for problem in failed:
        print(f"hipexo: run failed: {problem}", file=sys.stderr, flush=True)
    return ExitCode.CHECK_FAILED if failed else ExitCode.OK
