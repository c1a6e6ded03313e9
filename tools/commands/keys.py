"""``hipexo keys new``: an Ed25519 signing key pair for bundles."""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.vocabulary import add_renamed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help="bundle signing keys")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    new = sub.add_parser("new", help="write NAME.key (private, mode 0600) and NAME.pub (one trusted-keys line)")
    new.add_argument("name", help="who signs with it, e.g. lab-release")
    add_renamed(new, "--out", ["--dir"], type=Path, default=Path("keys"), metavar="DIR", help="where the files go")
    new.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    from firmware_bridge.signing import TrustError, new_key
    from tools.errors import UserError

    private = args.out / f"{args.name}.key"
    try:
        public = new_key(private, args.name)
    except TrustError as exc:
        raise UserError(str(exc)) from exc
    except OSError as exc:
        raise UserError(f"{private}: cannot write it ({exc.strerror}); choose another --out") from exc
    print(f"private key {private} (keep it off the device); public key {private.with_suffix('.pub')}:")
    print(public.line())
    print("append that line to the device's trusted-keys file to accept bundles signed with this key")
    return 0
