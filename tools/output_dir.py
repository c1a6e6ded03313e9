"""Output folders a command may replace: only ones it made itself, recognised by its marker file.

A command that starts from an empty folder (``hipexo demo --out DIR``) empties DIR only when DIR holds the marker
the same command wrote there; a non-empty folder without it (a user's folder, a typo) is refused, untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tools.errors import UserError

MARKER = ".hipexo-output"


def fresh_output_dir(path: Path, command: str) -> Path:
    """``path`` created (or emptied, if ``command`` made it) with the marker in it; refused otherwise."""
    path = Path(path)
    marker = path / MARKER
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path}: is a file, not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()):
        owner = marker.read_text().strip() if marker.is_file() else None
        if owner != command:
            raise UserError(
                f"--out {path}: the folder is not empty and was not made by 'hipexo {command}' "
                f"(no {MARKER} naming it); nothing was deleted: choose a new or empty folder"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    marker.write_text(command + "\n")
    return path
