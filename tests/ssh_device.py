"""A real OpenSSH server on 127.0.0.1 for deployment tests: its own host key, key authentication only.

The "device" is this machine reached through sshd, so the installer's whole SSH path runs for real.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


@dataclass
class SshDevice:
    host_alias: str
    config: Path
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sshd(folder: Path) -> SshDevice:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    port = _free_port()
    (folder / "sshd_config").write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {folder / "host_key"}
PidFile {folder / "sshd.pid"}
AuthorizedKeysFile {folder / "authorized_keys"}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
"""
    )
    host_key = (folder / "host_key.pub").read_text().split()[:2]
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    (folder / "ssh_config").write_text(
        f"""Host exo-device
  HostName 127.0.0.1
  Port {port}
  User {getpass.getuser()}
  IdentityFile {folder / "client_key"}
  IdentitiesOnly yes
  UserKnownHostsFile {folder / "known_hosts"}
  StrictHostKeyChecking yes
  BatchMode yes
"""
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    process = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(folder / "sshd_config")], stderr=open(folder / "sshd.log", "w")
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"sshd exited: {(folder / 'sshd.log').read_text()}") from None
            time.sleep(0.05)
    device = SshDevice("exo-device", folder / "ssh_config", process)
    probe = subprocess.run(["ssh", "-F", str(device.config), device.host_alias, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        device.stop()
        raise RuntimeError(f"ssh to the test sshd failed: {probe.stderr}\n{(folder / 'sshd.log').read_text()}")
    return device
