"""What every reader returns: one IMU stream per named sensor, on one clock, in SI units and sensor frames.

Readers check what makes a file unusable (a missing column, a value that is not a finite number, time or a
packet counter that does not increase) and raise :class:`RecordingError`, whose message names the file, the
line and the problem, so a command prints one line and never a traceback.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class RecordingError(ValueError):
    """A recording that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class ImuStream:
    """One sensor: samples at ``time_s`` (strictly increasing, the recording's clock), sensor frame."""

    time_s: np.ndarray
    gyro: np.ndarray
    """(T, 3) rad/s."""
    accel: np.ndarray
    """(T, 3) m/s², gravity included (+g up at rest)."""
    origin: str
    """The file (or files) it was read from, for messages."""


@dataclass(frozen=True)
class Recording:
    path: Path
    format: str
    imus: dict[str, ImuStream]

    def span_s(self, names: list[str] | tuple[str, ...]) -> tuple[float, float]:
        """The time every one of ``names`` covers: (latest start, earliest end)."""
        missing = [n for n in names if n not in self.imus]
        if missing:
            raise RecordingError(f"{self.path}: no IMUs {missing} in the recording (it has {sorted(self.imus)})")
        start = max(float(self.imus[n].time_s[0]) for n in names)
        end = min(float(self.imus[n].time_s[-1]) for n in names)
        if end <= start:
            spans = ", ".join(f"{n} {self.imus[n].time_s[0]:.2f}–{self.imus[n].time_s[-1]:.2f} s" for n in names)
            raise RecordingError(f"{self.path}: the sensors' samples do not overlap in time ({spans})")
        return start, end

    def resampled(self, names: list[str] | tuple[str, ...], rate_hz: float) -> np.ndarray:
        """``(T, len(names), 6)`` gyro xyz and accel xyz of each IMU, linearly interpolated onto one grid at
        ``rate_hz`` over the time they all cover."""
        start, end = self.span_s(names)
        grid = start + np.arange(0.0, end - start, 1.0 / rate_hz)
        out = np.empty((len(grid), len(names), 6))
        for k, name in enumerate(names):
            stream = self.imus[name]
            for i in range(3):
                out[:, k, i] = np.interp(grid, stream.time_s, stream.gyro[:, i])
                out[:, k, 3 + i] = np.interp(grid, stream.time_s, stream.accel[:, i])
        return out


def read_lines(path: Path) -> list[str]:
    """The file's lines (gzip when it ends in .gz), or a :class:`RecordingError` naming it."""
    try:
        with (
            gzip.open(path, "rt", encoding="utf-8-sig")
            if path.suffix == ".gz"
            else open(path, encoding="utf-8-sig") as f
        ):
            lines = f.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read ({exc})") from exc
    if not lines:
        raise RecordingError(f"{path}: empty file")
    return lines


def check_increasing(path: Path, time_s: np.ndarray, line_of_row: np.ndarray, what: str, labels: list[str]) -> None:
    """Refuse a clock that stands still or goes back, naming the first row where it does."""
    if len(time_s) < 2:
        raise RecordingError(f"{path}: fewer than two samples")
    steps = np.diff(time_s)
    if np.any(steps <= 0):
        row = int(np.argmax(steps <= 0)) + 1
        raise RecordingError(f"{path}:{line_of_row[row]}: {what} {labels[row]} does not increase")
