"""``hipexo device install | rollback | status``: load students onto the device computer, locally or over SSH.

A remote device root is ``--device-root [user@]host:DIR``. The bundle streams over the system's OpenSSH client (key
authentication only: ``BatchMode=yes``) as a tar archive into a staging folder, then ``hipexo device
receive`` runs *on the device* to verify it there and switch ``current`` (firmware_bridge.device_root).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from tools.vocabulary import STDOUT, add_json_option, add_renamed, write_json_output

REMOTE = re.compile(r"^(?P<host>[^/:]+):(?P<path>.+)$")


@dataclass(frozen=True)
class Target:
    host: str | None
    path: str

    @classmethod
    def parse(cls, text: str) -> Target:
        match = REMOTE.match(text)
        return cls(match["host"], match["path"]) if match else cls(None, text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("device", help="install, roll back and inspect students on the device computer")
    sub = parser.add_subparsers(metavar="ACTION", required=True)

    def add(name: str, help_text: str, func) -> argparse.ArgumentParser:
        action = sub.add_parser(name, help=help_text)
        add_renamed(
            action,
            "--device-root",
            ["--target"],
            required=True,
            metavar="[USER@HOST:]DIR",
            help="the device's root folder: DIR here, or [user@]host:DIR over SSH",
        )
        action.add_argument("--ssh-config", type=Path, default=None, help="ssh_config file for a remote device root")
        action.add_argument("--remote-hipexo", default="hipexo", help="the hipexo command on the device")
        action.set_defaults(func=func)
        return action

    install = add("install", "copy a signed bundle to the device, verify it there, make it current", run_install)
    install.add_argument("bundle", type=Path, help="signed student bundle directory")
    add("rollback", "make the previously active student current again", run_rollback)
    status = add("status", "installed versions, the active one, manifest summaries", run_status)
    add_json_option(status, "the status", nargs="?", const=STDOUT)
    receive = sub.add_parser("receive", help="(runs on the device) verify a staged transfer and make it current")
    add_renamed(
        receive, "--device-root", ["--root"], type=Path, required=True, metavar="DIR", help="the device's root folder"
    )
    receive.add_argument("--staged", required=True, help="staging folder name under DIR/bundles")
    receive.set_defaults(func=run_receive)


def _ssh(target: Target, args: argparse.Namespace) -> list[str]:
    command = ["ssh", "-o", "BatchMode=yes"]
    if args.ssh_config:
        command += ["-F", str(args.ssh_config)]
    return [*command, target.host]


def _remote(target: Target, args: argparse.Namespace, *words: str, echo: bool = True) -> subprocess.CompletedProcess:
    """Run ``hipexo WORDS`` on the device; its output passes through (``echo``), its failure is ours."""
    from tools.errors import UserError

    remote = f"{args.remote_hipexo} {' '.join(shlex.quote(w) for w in words)}"
    result = subprocess.run([*_ssh(target, args), remote], capture_output=True, text=True)
    if echo:
        sys.stdout.write(result.stdout)
    if result.returncode != 0:
        raise UserError(f"on {target.host}: {result.stderr.strip() or f'exit {result.returncode}'}")
    return result


def _on_device(action: str, call):
    """Run a DeviceRoot operation; its refusals become one clear message (``current`` is unchanged)."""
    from firmware_bridge.bundle import BundleError
    from firmware_bridge.device_root import DeviceRootError
    from firmware_bridge.signing import TrustError
    from tools.errors import UserError

    try:
        return call()
    except (BundleError, DeviceRootError, TrustError) as exc:
        raise UserError(f"{action} refused; current unchanged\n{exc}") from exc


def run_install(args: argparse.Namespace) -> int:
    from firmware_bridge.bundle import BundleError, read_manifest
    from firmware_bridge.device_root import DeviceRoot
    from tools.errors import UserError

    target = Target.parse(args.device_root)
    try:
        read_manifest(args.bundle)
    except BundleError as exc:
        raise UserError(str(exc)) from exc
    if target.host is None:
        version, signed_by = _on_device("install", lambda: DeviceRoot(Path(target.path)).install_local(args.bundle))
        print(f"installed {version} ({signed_by}); current -> {version}")
        return 0
    staging = f".staging-{uuid.uuid4().hex[:12]}"
    folder = f"{target.path}/bundles/{staging}"
    unpack = f"mkdir -p {shlex.quote(folder)} && tar -xf - -C {shlex.quote(folder)}"
    with subprocess.Popen(["tar", "-C", str(args.bundle), "-cf", "-", "."], stdout=subprocess.PIPE) as tar:
        copied = subprocess.run([*_ssh(target, args), unpack], stdin=tar.stdout, capture_output=True, text=True)
    if tar.returncode != 0 or copied.returncode != 0:
        raise UserError(f"copy to {target.host}:{folder} failed; current unchanged\n{copied.stderr.strip()}")
    _remote(target, args, "device", "receive", "--device-root", target.path, "--staged", staging)
    return 0


def run_receive(args: argparse.Namespace) -> int:
    from firmware_bridge.device_root import DeviceRoot

    root = DeviceRoot(args.device_root)
    version, signed_by = _on_device("install", lambda: root.receive(root.bundles / args.staged))
    print(f"installed {version} ({signed_by}); current -> {version}")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    from firmware_bridge.device_root import DeviceRoot

    target = Target.parse(args.device_root)
    if target.host is not None:
        _remote(target, args, "device", "rollback", "--device-root", target.path)
        return 0
    version, signed_by = _on_device("rollback", lambda: DeviceRoot(Path(target.path)).rollback())
    print(f"rolled back: current -> {version} ({signed_by})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from firmware_bridge.device_root import DeviceRoot

    target = Target.parse(args.device_root)
    if target.host is not None:
        if args.json is None:
            _remote(target, args, "device", "status", "--device-root", target.path)
        else:
            remote = _remote(
                target, args, "device", "status", "--device-root", target.path, "--json", STDOUT, echo=False
            )
            write_json_output(args.json, remote.stdout)
        return 0
    status = DeviceRoot(Path(target.path)).status()
    if args.json is not None:
        write_json_output(args.json, json.dumps(status, indent=1))
        return 0
    print(f"device directory {status['root']}: {status['trusted_keys']} trusted key(s)")
    print(f"active: {status['active'] or '(none)'}; rollback to: {status['rollback_to'] or '(none)'}")
    for v in status["versions"]:
        mark = "*" if v["active"] else " "
        figures = ", ".join(f"{k} {val}" for k, val in v.get("eval", {}).items())
        print(
            f" {mark} {v['version']}  signer {v.get('signer')}  {v.get('channels')} ch × {v.get('window')} "
            f"@ {v.get('rate_hz')} Hz  teacher {v.get('teacher_sha256') or '?'}  {figures}"
        )
    for name in status["incomplete_transfers"]:
        print(f"   {name}  incomplete transfer (never made current; removed at the next install)")
    return 0
