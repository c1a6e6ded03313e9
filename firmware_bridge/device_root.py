"""The device computer's bundle directory: versioned installs, an atomic ``current`` link, rollback.

Layout (docs/deploy.md)::

    ROOT/trusted_keys            signers whose bundles this device accepts
    ROOT/runtime.yaml            this device's runtime config (optional: the embedded default otherwise)
    ROOT/device.yaml             this device's hardware config (optional)
    ROOT/bundles/<version>/      installed, verified bundles; <version> = UTC time + manifest hash
    ROOT/bundles/.staging-*/     transfers in progress (never pointed at)
    ROOT/current -> bundles/<version>
    ROOT/history.jsonl           one line per switch of ``current`` (install, rollback)

A bundle is verified where it will run, with this device's keys and configs, before ``current`` moves;
``current`` only ever changes by an atomic rename of a complete symlink, so a transfer cut off anywhere
leaves the previous student in place.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from firmware_bridge.atomic import fsync_path
from firmware_bridge.bundle import MANIFEST, BundleError, load_bundle, read_manifest
from firmware_bridge.config import DeviceConfig, RuntimeConfig, load_config
from firmware_bridge.config.paths import default_config
from firmware_bridge.signing import Trust

STAGING_PREFIX = ".staging-"


class DeviceRootError(RuntimeError):
    """An install, rollback or status that cannot go on; ``current`` is as it was."""


@dataclass(frozen=True)
class InstalledVersion:
    name: str
    path: Path
    active: bool
    summary: dict[str, Any]


def manifest_digest(bundle_dir: Path) -> str:
    return hashlib.sha256((Path(bundle_dir) / MANIFEST).read_bytes()).hexdigest()


def _fsync_tree(path: Path) -> None:
    for folder, _, files in os.walk(path):
        for name in files:
            with open(Path(folder) / name, "rb") as f:
                os.fsync(f.fileno())
        fsync_path(Path(folder))


class DeviceRoot:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.bundles = self.root / "bundles"
        self.current = self.root / "current"
        self.history = self.root / "history.jsonl"
        self.trusted_keys = self.root / "trusted_keys"

    # --- this device's configs ------------------------------------------------------------------------
    @property
    def runtime_config_path(self) -> Path:
        own = self.root / "runtime.yaml"
        return own if own.is_file() else default_config("runtime")

    @property
    def device_config_path(self) -> Path:
        own = self.root / "device.yaml"
        return own if own.is_file() else default_config("device", "hip_exo")

    def trust(self) -> Trust:
        runtime = load_config(self.runtime_config_path, RuntimeConfig)
        if not self.trusted_keys.is_file() and not runtime.allow_unsigned_bundles:
            raise DeviceRootError(
                f"{self.trusted_keys}: missing; add the public key of each signer this device accepts"
            )
        keys = self.trusted_keys if self.trusted_keys.is_file() else None
        return Trust.from_file(keys, runtime.allow_unsigned_bundles)

    def verify(self, bundle_dir: Path) -> str:
        """Check a bundle as the runtime will load it here; returns who signed it."""
        runtime = load_config(self.runtime_config_path, RuntimeConfig)
        device = load_config(self.device_config_path, DeviceConfig)
        return load_bundle(bundle_dir, runtime, device, trust=self.trust()).signature.describe()

    # --- transfers ------------------------------------------------------------------------------------
    def new_staging(self) -> Path:
        self.bundles.mkdir(parents=True, exist_ok=True)
        path = self.bundles / f"{STAGING_PREFIX}{os.getpid()}-{time.time_ns()}"
        path.mkdir()
        return path

    def stale_stagings(self) -> list[Path]:
        return sorted(self.bundles.glob(f"{STAGING_PREFIX}*")) if self.bundles.is_dir() else []

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def receive(self, staged: Path) -> tuple[str, str]:
        """Verify a complete transfer in ``staged``, keep it as a version and make it current.

        Returns (version, signature description). On any problem the staging folder is removed and
        :class:`BundleError` or :class:`DeviceRootError` says why; ``current`` is untouched.
        """
        staged = Path(staged)
        if staged.parent.resolve() != self.bundles.resolve() or not staged.name.startswith(STAGING_PREFIX):
            raise DeviceRootError(f"{staged}: not a staging folder of {self.bundles}")
        with self._locked():
            try:
                signed_by = self.verify(staged)
                _fsync_tree(staged)
                digest = manifest_digest(staged)
                existing = [v for v in self._version_dirs() if v.name.endswith(digest[:12])]
                if existing:
                    version = existing[0].name
                    shutil.rmtree(staged)
                else:
                    version = f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{digest[:12]}"
                    os.rename(staged, self.bundles / version)
                    fsync_path(self.bundles)
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise
            for stale in self.stale_stagings():  # earlier transfers that were cut off
                shutil.rmtree(stale, ignore_errors=True)
            self._switch(version, "install", signed_by)
        return version, signed_by

    def install_local(self, bundle_dir: Path) -> tuple[str, str]:
        """Copy a bundle from this machine's file system, then :meth:`receive` it."""
        read_manifest(bundle_dir)
        staged = self.new_staging()
        shutil.copytree(bundle_dir, staged, dirs_exist_ok=True)
        return self.receive(staged)

    # --- current and its history ----------------------------------------------------------------------
    def active(self) -> str | None:
        if not self.current.is_symlink():
            return None
        return Path(os.readlink(self.current)).name

    def _stack(self) -> list[str]:
        """Versions in activation order, rollbacks popped: the last is active, the one before is the way back."""
        stack: list[str] = []
        if self.history.is_file():
            for line in self.history.read_text().splitlines():
                entry = json.loads(line)
                if entry["action"] == "rollback":
                    stack.pop()
                elif not stack or stack[-1] != entry["version"]:
                    stack.append(entry["version"])
        return stack

    def _switch(self, version: str, action: str, note: str) -> None:
        link = self.root / f".current-{os.getpid()}"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("bundles") / version)
        os.replace(link, self.current)
        fsync_path(self.root)
        entry = {"utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "action": action}
        entry |= {"version": version, "note": note}
        with open(self.history, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def rollback(self) -> tuple[str, str]:
        """Make the previously active version current again, after verifying it as at install."""
        with self._locked():
            stack = self._stack()
            if len(stack) < 2:
                raise DeviceRootError(f"{self.root}: no earlier version to roll back to (history: {stack})")
            previous = stack[-2]
            if not (self.bundles / previous).is_dir():
                raise DeviceRootError(f"{self.bundles / previous}: the previous version is no longer installed")
            signed_by = self.verify(self.bundles / previous)
            self._switch(previous, "rollback", f"from {stack[-1]}; {signed_by}")
        return previous, signed_by

    # --- status ---------------------------------------------------------------------------------------
    def _version_dirs(self) -> list[Path]:
        if not self.bundles.is_dir():
            return []
        return sorted(p for p in self.bundles.iterdir() if p.is_dir() and not p.name.startswith("."))

    def versions(self) -> list[InstalledVersion]:
        active = self.active()
        return [InstalledVersion(p.name, p, p.name == active, summarise(p)) for p in self._version_dirs()]

    def status(self) -> dict[str, Any]:
        stack = self._stack()
        return {
            "root": str(self.root),
            "active": self.active(),
            "rollback_to": stack[-2] if len(stack) > 1 else None,
            "trusted_keys": self.trusted_keys.read_text().count("ed25519 ") if self.trusted_keys.is_file() else 0,
            "versions": [{"version": v.name, "active": v.active, **v.summary} for v in self.versions()],
            "incomplete_transfers": [p.name for p in self.stale_stagings()],
        }


def summarise(bundle_dir: Path) -> dict[str, Any]:
    """The few manifest fields a person checks before walking: what it reads, where it came from, how good."""
    try:
        manifest = read_manifest(bundle_dir)
    except BundleError as exc:
        return {"problem": str(exc).splitlines()[-1].strip()}
    features, provenance = manifest.get("features", {}), manifest.get("provenance", {})
    signature = Path(bundle_dir) / "manifest.sig"
    return {
        "channels": len(features.get("channels", [])),
        "window": features.get("window"),
        "rate_hz": features.get("rate_hz"),
        "teacher_sha256": str(provenance.get("teacher_sha256", ""))[:16],
        "created_utc": provenance.get("created_utc", ""),
        "eval": provenance.get("eval", {}),
        "signer": json.loads(signature.read_text()).get("key_name", "") if signature.is_file() else "UNSIGNED",
    }
