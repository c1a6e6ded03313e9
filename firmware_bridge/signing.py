"""Ed25519 bundle signatures: who made a bundle, checked on the device before it loads (docs/bundle.md).

The signature covers the exact bytes of ``manifest.json``, and the manifest holds the SHA-256 of every
other file, so one signature covers the whole bundle. Keys are one-line text, as in SSH's files:
``ed25519 <base64 raw public key> <name>``; a device's trusted-keys file holds one such line per signer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from firmware_bridge import atomic

SIGNATURE = "manifest.sig"
SIGNED_FILE = "manifest.json"
SIGNATURE_FORMAT = "hipexo-signature"
KEY_TYPE = "ed25519"


class TrustError(ValueError):
    """A key or trusted-keys file that cannot be used; names the file and line."""


@dataclass(frozen=True)
class PublicKey:
    name: str
    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """First 16 hex digits of the SHA-256 of the raw key: short, and stable across files."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def line(self) -> str:
        return f"{KEY_TYPE} {base64.b64encode(self.raw).decode()} {self.name}"


def parse_public_key(line: str, where: str) -> PublicKey:
    parts = line.split(maxsplit=2)
    if len(parts) < 2 or parts[0] != KEY_TYPE:
        raise TrustError(f"{where}: expected '{KEY_TYPE} <base64 key> [name]', got {line.strip()[:60]!r}")
    try:
        raw = base64.b64decode(parts[1], validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise TrustError(f"{where}: not a base64 Ed25519 public key ({exc})") from exc
    return PublicKey(parts[2].strip() if len(parts) > 2 else "", key)


@dataclass(frozen=True)
class Trust:
    """What a device accepts: bundles signed by one of ``keys``; unsigned ones only with the development flag."""

    keys: dict[str, PublicKey] = field(default_factory=dict)
    allow_unsigned: bool = False

    @classmethod
    def from_file(cls, path: Path | None, allow_unsigned: bool = False) -> Trust:
        if path is None:
            return cls({}, allow_unsigned)
        path = Path(path)
        if not path.is_file():
            raise TrustError(f"{path}: trusted-keys file not found")
        keys = {}
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                key = parse_public_key(line, f"{path}:{number}")
                keys[key.key_id] = key
        return cls(keys, allow_unsigned)


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome for a bundle that may run: who signed it, or that it runs unsigned by the development flag."""

    signed: bool
    key_id: str = ""
    key_name: str = ""

    def describe(self) -> str:
        if self.signed:
            return f"signed by {self.key_name or '(unnamed key)'} ({self.key_id})"
        return "UNSIGNED (development flag allow_unsigned)"


def new_key(private_path: Path, name: str) -> PublicKey:
    """Write a new private key (PEM, mode 0600) and ``<same stem>.pub`` next to it; refuses to overwrite."""
    private_path = Path(private_path)
    public_path = private_path.with_suffix(".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise TrustError(f"{path}: already exists; not overwriting a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public = PublicKey(name, key.public_key())
    public_path.write_text(public.line() + "\n")
    return public


def load_private_key(path: Path) -> tuple[Ed25519PrivateKey, PublicKey]:
    path = Path(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise TrustError(f"{path}: cannot read an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise TrustError(f"{path}: not an Ed25519 key ({type(key).__name__})")
    public_path = path.with_suffix(".pub")
    name = parse_public_key(public_path.read_text(), str(public_path)).name if public_path.is_file() else path.stem
    return key, PublicKey(name, key.public_key())


def sign_bundle(bundle_dir: Path, private_key_path: Path) -> PublicKey:
    """Sign ``manifest.json`` as it is now; write ``manifest.sig``."""
    key, public = load_private_key(private_key_path)
    manifest = (Path(bundle_dir) / SIGNED_FILE).read_bytes()
    record = {
        "format": SIGNATURE_FORMAT,
        "algorithm": KEY_TYPE,
        "signed_file": SIGNED_FILE,
        "key_id": public.key_id,
        "key_name": public.name,
        "signature": base64.b64encode(key.sign(manifest)).decode(),
    }
    atomic.write_text(Path(bundle_dir) / SIGNATURE, json.dumps(record, indent=2) + "\n")
    return public


def check_signature(bundle_dir: Path, trust: Trust) -> tuple[SignatureCheck | None, list[str]]:
    """(the check, []) when the bundle may run under ``trust``; (None, problems) when it must not."""
    path = Path(bundle_dir) / SIGNATURE
    if not path.is_file():
        if trust.allow_unsigned:
            return SignatureCheck(signed=False), []
        return None, [f"{SIGNATURE}: missing; the bundle is unsigned (sign it with 'hipexo bundle sign')"]
    try:
        record = json.loads(path.read_text())
        key_id, signature = str(record["key_id"]), base64.b64decode(record["signature"], validate=True)
        algorithm = record["algorithm"]
    except (ValueError, KeyError, TypeError) as exc:
        return None, [f"{SIGNATURE}: unreadable ({exc.__class__.__name__}: {exc})"]
    if algorithm != KEY_TYPE:
        return None, [f"{SIGNATURE}: algorithm {algorithm!r}, expected {KEY_TYPE!r}"]
    key = trust.keys.get(key_id)
    if key is None:
        named = record.get("key_name") or "an unnamed key"
        return None, [f"{SIGNATURE}: signed by {named} ({key_id}), which is not in the device's trusted keys"]
    try:
        key.key.verify(signature, (Path(bundle_dir) / SIGNED_FILE).read_bytes())
    except InvalidSignature:
        return None, [f"{SIGNATURE}: signature does not match {SIGNED_FILE} (the manifest was altered after signing)"]
    return SignatureCheck(signed=True, key_id=key_id, key_name=key.name), []
