"""Where the project's own files live (configs, shared data), so commands work from any directory."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "configs"
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


def default_config(section: str, name: str = "default") -> Path:
    """``configs/<section>/<name>.yaml``."""
    return CONFIG_DIR / section / f"{name}.yaml"
