"""Atomic writes: a file or folder appears complete under its final name, or not at all.

An interrupt (Ctrl-C, SIGTERM, a crash) mid-write leaves at most a temporary sibling with a dotted name, never a
half-written dataset, checkpoint or bundle that a resume would trust or that blocks it. Writers write to the
temporary path; on success it is flushed to disk and renamed over the final name (``os.replace``, atomic on
one filesystem); on failure it is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _temporary_sibling(path: Path, tag: str) -> Path:
    """Same folder (so the rename is atomic), same suffix (``np.savez`` appends ``.npz`` otherwise)."""
    return path.with_name(f".{path.stem}.{tag}-{os.getpid()}{path.suffix}")


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's entries to disk (a folder: so a rename in it survives a power cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yields the temporary path to write; it replaces ``path`` when the block ends without an exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path, "partial")
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode())


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yields an empty staging folder; when the block ends without an exception it takes the place of ``path``
    (a previous folder there is removed). The two renames of the swap run with stop signals blocked."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _temporary_sibling(path, "partial")
    previous = _temporary_sibling(path, "previous")
    for stale in (staging, previous):
        shutil.rmtree(stale, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        for f in staging.rglob("*"):
            if f.is_file():
                fsync_path(f)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            if path.exists():
                os.rename(path, previous)
            os.rename(staging, path)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)
