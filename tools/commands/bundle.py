"""``hipexo bundle verify | sign``: check a student bundle as the device would, and sign one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from firmware_bridge.config.paths import default_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bundle", help="student bundles: verify, sign")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="check a bundle against the device configs and print its manifest")
    verify.add_argument("dir", type=Path, help="bundle directory")
    verify.add_argument("--runtime-config", type=Path, default=default_config("runtime"), help="kind: runtime")
    verify.add_argument("--device-config", type=Path, default=default_config("device", "hip_exo"), help="kind: device")
    verify.add_argument("--trusted-keys", type=Path, default=None, help="signers to accept (or the runtime config's)")
    verify.add_argument("--allow-unsigned", action="store_true", help="accept an unsigned bundle (development)")
    verify.add_argument(
        "--accept-shaping-mismatch", action="store_true", help="accept shaping/limits that differ from the device's"
    )
    verify.set_defaults(func=run_verify)
    sign = sub.add_parser("sign", help="sign a bundle's manifest (writes manifest.sig)")
    sign.add_argument("dir", type=Path, help="bundle directory")
    sign.add_argument("--key", type=Path, required=True, help="private key from 'hipexo keys new'")
    sign.set_defaults(func=run_sign)


def run_verify(args: argparse.Namespace) -> int:
    from firmware_bridge.bundle import BundleError, load_bundle
    from firmware_bridge.config import DeviceConfig, RuntimeConfig, check_pair, load_config
    from firmware_bridge.signing import Trust, TrustError
    from tools.errors import UserError

    runtime = load_config(args.runtime_config, RuntimeConfig)
    device = load_config(args.device_config, DeviceConfig)
    check_pair(runtime, str(args.runtime_config), device, str(args.device_config))
    try:
        trust = Trust.from_file(args.trusted_keys or runtime.trusted_keys_file, args.allow_unsigned)
        bundle = load_bundle(
            args.dir, runtime, device, trust=trust, accept_shaping_mismatch=args.accept_shaping_mismatch
        )
    except (BundleError, TrustError) as exc:
        raise UserError(str(exc)) from exc
    print(json.dumps(bundle.manifest, indent=1))
    for mismatch in bundle.shaping_mismatches:
        print(f"warning: accepted by --accept-shaping-mismatch: {mismatch}")
    print(f"ok: {args.dir} (model sha256 {bundle.model_sha256[:16]}…, {bundle.signature.describe()})")
    return 0


def run_sign(args: argparse.Namespace) -> int:
    from firmware_bridge.bundle import read_manifest
    from firmware_bridge.signing import SIGNATURE, TrustError, sign_bundle
    from tools.errors import UserError

    try:
        read_manifest(args.dir)
        key = sign_bundle(args.dir, args.key)
    except (TrustError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    print(f"signed {args.dir / SIGNATURE} with {key.name} ({key.key_id})")
    return 0
