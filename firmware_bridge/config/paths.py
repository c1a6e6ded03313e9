"""Where the project's own files live (configs, shared data), so commands work from any directory.

The device side's default configs (``controller``, ``device``, ``runtime``, ``subject``) ship inside the package,
so a device-only install (``pip install hipexo``) has them: ``firmware_bridge/configs/<section>`` are links to the
repository's ``configs/<section>`` (one copy of each file), which the wheel stores as files (package data).
The other sections (sim, teacher, distill, bench) are workstation configs, read from the repository.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DEVICE_CONFIG_DIR = PACKAGE_DIR / "configs"
DEVICE_SECTIONS = ("controller", "device", "runtime", "subject")
REPO_ROOT = PACKAGE_DIR.parent
CONFIG_DIR = REPO_ROOT / "configs"
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


def default_config(section: str, name: str = "default") -> Path:
    """``<section>/<name>.yaml`` from the package (device side) or the repository's ``configs/``."""
    return (DEVICE_CONFIG_DIR if section in DEVICE_SECTIONS else CONFIG_DIR) / section / f"{name}.yaml"
