"""``hipexo calibrate RECORDING --subject FILE``: measure how each IMU sits on the wearer and write it into the
subject config (``imu_mounting``), which the runtime then undoes (docs/conventions.md)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from firmware_bridge.config.paths import default_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="IMU mounting on the wearer from a still stand and a walk, into the subject config"
    )
    parser.add_argument(
        "recording", type=Path, help="a TUM folder or a recording map (kind: recording YAML, docs/recordings.md)"
    )
    parser.add_argument(
        "--subject-config",
        "--subject",
        dest="subject",
        type=Path,
        required=True,
        help="the wearer's subject config (kind: subject), updated in place unless --out is given",
    )
    parser.add_argument(
        "--device-config",
        type=Path,
        default=default_config("device", "hip_exo"),
        help="the device: which IMUs there are and their nominal mountings",
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="write the calibrated subject config here instead"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from firmware_bridge.atomic import atomic_file
    from firmware_bridge.config import DeviceConfig, SubjectConfig, load_config
    from firmware_bridge.mounting import mounting_corrections
    from recordings import calibrate, open_recording
    from recordings.mounting import with_mounting

    load_config(args.subject, SubjectConfig)  # refuse a broken subject file before measuring anything
    device = load_config(args.device_config, DeviceConfig)
    estimates = calibrate(open_recording(args.recording), device)
    out = args.out or args.subject
    source = f"hipexo calibrate {args.recording.name} on {date.today().isoformat()}"
    with atomic_file(out) as tmp:
        tmp.write_text(with_mounting(args.subject.read_text(), estimates, source))
    mounting_corrections(device, load_config(out, SubjectConfig), str(out))
    for name, e in estimates.items():
        tilt = f", walking axis {e.axis_tilt_deg:.1f}° off horizontal" if e.axis_tilt_deg is not None else ""
        stand_walk = f"{e.standing_s:.1f} s stand" + (f", {e.walking_s:.1f} s walk" if e.walking_s else "")
        rpy = ", ".join(f"{a:.1f}" for a in e.rpy_deg)
        print(f"{name:<8} rpy_deg [{rpy}]  ({e.method}; {stand_walk}{tilt})")
    print(f"wrote imu_mounting for {sorted(estimates)} into {out}")
    return 0
