"""Xsens MT Manager text exports: one file per sensor (docs/recordings.md).

The layout, as MT Manager writes it (MTw Awinda and MTi user manuals; the OpenSim project keeps real exports
as test data): comment lines starting with ``//`` (``// Update Rate: 100.0Hz`` in older versions; device,
filter and ``// Coordinate system: ENU`` in 2022), then one tab-separated header line of column names, then one
line per packet. Columns used here:

- ``PacketCounter`` (a 16-bit counter that wraps at 65536; the Awinda station gives every sensor of a recording
  the same count per instant) or else ``SampleTimeFine`` (10 kHz ticks);
- ``Acc_X/Y/Z`` (m/s², gravity included), and ``Gyr_X/Y/Z`` (rad/s) when exported;
- orientation ``Mat[r][c]`` (the rotation matrix R_GS, row r, column c: its columns are the sensor axes in the
  global frame) or ``Quat_q0..q3`` (q_GS, q0 real). Without a gyroscope the angular velocity is derived from it.

Other columns (``SampleTimeFine`` when unused, ``Year``…``Second``, ``UTC_*``, ``Mag_*``, ``Roll/Pitch/Yaw``)
may be empty or ``NaN``; they are not read. Several sensors are aligned on their packet counters, not rows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recordings.orientation import angular_velocity, quaternion_matrices
from recordings.recording import ImuStream, RecordingError, check_increasing, read_lines

ACC = ("Acc_X", "Acc_Y", "Acc_Z")
GYR = ("Gyr_X", "Gyr_Y", "Gyr_Z")
QUAT = ("Quat_q0", "Quat_q1", "Quat_q2", "Quat_q3")
MAT = tuple(f"Mat[{r}][{c}]" for r in (1, 2, 3) for c in (1, 2, 3))
"""Row-major: ``MAT[3 * (r - 1) + (c - 1)]`` is R_GS[r - 1, c - 1] (the export lists them column by column)."""
COUNTER_MODULUS = 65536
SAMPLE_TIME_FINE_HZ = 10_000.0
MAX_GAP_S = 0.1
"""Longer runs of lost packets are not interpolated over: the file is refused."""
_RATE = re.compile(r"Update Rate:\s*([0-9.]+)\s*Hz", re.IGNORECASE)


def looks_like_xsens(path: Path) -> bool:
    """An MT Manager export: its first line is a ``//`` comment or a header with ``PacketCounter``."""
    try:
        first = read_lines(path)[0]
    except RecordingError:
        return False
    return first.startswith("//") or "PacketCounter" in first


@dataclass(frozen=True)
class XsensExport:
    """One sensor's export: samples on its own count (``ticks`` at ``rate_hz``), sensor frame, SI units."""

    path: Path
    ticks: np.ndarray
    """Unwrapped packet counter (or SampleTimeFine ticks converted to samples): the time axis in samples."""
    rate_hz: float
    accel: np.ndarray
    gyro: np.ndarray
    gyro_derived: bool
    """True when there was no gyroscope and the angular velocity comes from the orientation."""


def read_xsens(path: Path, rate_hz: float | None = None) -> XsensExport:
    """Read and check one export. ``rate_hz`` is needed only when the file does not say (no ``Update Rate``
    comment and no ``SampleTimeFine``); when given it overrides the file."""
    path = Path(path)
    lines = read_lines(path)
    comments = [line for line in lines if line.startswith("//")]
    body = [(number, line) for number, line in enumerate(lines, start=1) if line.strip() and not line.startswith("//")]
    if not body:
        raise RecordingError(f"{path}: no header line of column names after the '//' comments")
    header_line, header = body[0]
    delimiter = next((d for d in ("\t", ";", ",") if d in header), None)
    names = [n.strip() for n in (header.split(delimiter) if delimiter else header.split())]
    rows = body[1:]
    if len(rows) < 2:
        raise RecordingError(f"{path}: fewer than two samples")
    column = {name: k for k, name in enumerate(names)}

    def need(wanted: tuple[str, ...], what: str) -> None:
        missing = [n for n in wanted if n not in column]
        if missing:
            raise RecordingError(f"{path}:{header_line}: no {what} column(s) {missing} in the header")

    need(ACC, "accelerometer")
    has_gyro = all(n in column for n in GYR)
    orientation = MAT if all(n in column for n in MAT) else QUAT if all(n in column for n in QUAT) else None
    if not has_gyro and orientation is None:
        raise RecordingError(
            f"{path}:{header_line}: no Gyr_X/Y/Z and no orientation (Mat[1][1]…Mat[3][3] or Quat_q0…q3) to derive "
            "the angular velocity from: export the gyroscope or the orientation"
        )
    clock = "PacketCounter" if "PacketCounter" in column else "SampleTimeFine" if "SampleTimeFine" in column else None
    if clock is None:
        raise RecordingError(f"{path}:{header_line}: no PacketCounter or SampleTimeFine column to align samples on")
    wanted = [clock, *ACC, *(GYR if has_gyro else orientation)]
    table = np.empty((len(rows), len(wanted)))
    for i, (number, line) in enumerate(rows):
        fields = line.split(delimiter) if delimiter else line.split()
        if len(fields) < len(names) and not all(column[n] < len(fields) for n in wanted):
            raise RecordingError(
                f"{path}:{number}: {len(fields)} fields where the header names {len(names)}: a cut or malformed line"
            )
        for j, name in enumerate(wanted):
            text = fields[column[name]].strip()
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise RecordingError(
                    f"{path}:{number}: {name} is {repr(text) if text else 'empty'}, not a finite number "
                    "(cut the samples without data from the export)"
                )
            table[i, j] = value
    line_of_row = np.array([number for number, _ in rows])
    rate = rate_hz or _stated_rate(comments)
    if rate is None and clock == "PacketCounter" and "SampleTimeFine" in column:
        rate = _rate_from_fine_time(table[:, 0], [line.split(delimiter) for _, line in rows], column["SampleTimeFine"])
    ticks, rate = _clock(path, clock, table[:, 0], line_of_row, rate)
    accel = table[:, 1:4]
    if has_gyro:
        return XsensExport(path, ticks, rate, accel, table[:, 4:7], gyro_derived=False)
    values = table[:, 4:]
    r_gs = values.reshape(-1, 3, 3) if orientation is MAT else quaternion_matrices(values)
    return XsensExport(path, ticks, rate, accel, angular_velocity(ticks / rate, r_gs), gyro_derived=True)


def _rate_from_fine_time(counter: np.ndarray, fields: list[list[str]], index: int) -> float | None:
    """Packets per second from SampleTimeFine (10 kHz ticks) over the whole export, when every row has it."""
    try:
        fine = np.array([float(f[index]) for f in fields])
    except (ValueError, IndexError):
        return None
    if not np.all(np.isfinite(fine)):
        return None
    packets = np.sum(np.mod(np.diff(counter), COUNTER_MODULUS if counter.max() < COUNTER_MODULUS else 2**32))
    ticks = np.sum(np.mod(np.diff(fine), 2**32))
    return float(SAMPLE_TIME_FINE_HZ * packets / ticks) if ticks > 0 and packets > 0 else None


def _clock(
    path: Path, clock: str, raw: np.ndarray, line_of_row: np.ndarray, rate: float | None
) -> tuple[np.ndarray, float]:
    """(sample count since the first sample's, unwrapped; sample rate) from the packet counter or the fine time."""
    labels = [f"{v:.0f}" for v in raw]
    if clock == "PacketCounter":
        modulus = COUNTER_MODULUS if raw.max() < COUNTER_MODULUS else 2**32
        steps = np.mod(np.diff(raw), modulus)
        back = np.flatnonzero((steps == 0) | (steps > modulus // 2))
        if len(back):
            row = int(back[0]) + 1
            raise RecordingError(
                f"{path}:{line_of_row[row]}: PacketCounter {labels[row]} after {labels[row - 1]} does not increase"
            )
        ticks = raw[0] + np.concatenate([[0.0], np.cumsum(steps)])
    else:
        ticks = raw[0] + np.concatenate([[0.0], np.cumsum(np.mod(np.diff(raw), 2**32))])
        check_increasing(path, ticks, line_of_row, "SampleTimeFine", labels)
    if rate is None and clock == "SampleTimeFine":
        rate = SAMPLE_TIME_FINE_HZ / float(np.median(np.diff(ticks)))
    if rate is None:
        raise RecordingError(
            f"{path}: no sample rate: the header has no 'Update Rate' line and there is no SampleTimeFine; "
            "give rate_hz in the recording map"
        )
    if clock == "SampleTimeFine":
        ticks = ticks * rate / SAMPLE_TIME_FINE_HZ
    gaps = np.flatnonzero(np.diff(ticks) > MAX_GAP_S * rate)
    if len(gaps):
        row = int(gaps[0]) + 1
        lost = (ticks[row] - ticks[row - 1]) / rate
        raise RecordingError(
            f"{path}:{line_of_row[row]}: {lost:.2f} s of samples missing before {clock} {labels[row]} "
            f"(more than {MAX_GAP_S:g} s cannot be interpolated): cut the recording there"
        )
    return ticks, float(rate)


def _stated_rate(comments: list[str]) -> float | None:
    for line in comments:
        match = _RATE.search(line)
        if match:
            return float(match.group(1))
    return None


def join_exports(exports: dict[str, XsensExport]) -> dict[str, ImuStream]:
    """Sensors of one recording on one clock: sample ``n`` of every sensor is the same instant (their packet
    counters agree), whichever row it sits on; a counter that wrapped earlier in one file than another is
    placed by the nearest wrap to the first sensor's start."""
    if not exports:
        return {}
    rates = {round(e.rate_hz, 6) for e in exports.values()}
    if len(rates) > 1:
        listed = ", ".join(f"{name} {e.rate_hz:g} Hz" for name, e in exports.items())
        raise RecordingError(f"the sensors were recorded at different rates ({listed}): export them at one rate")
    reference = next(iter(exports.values())).ticks[0]
    out = {}
    for name, e in exports.items():
        shift = round((reference - e.ticks[0]) / COUNTER_MODULUS) * COUNTER_MODULUS
        out[name] = ImuStream((e.ticks + shift) / e.rate_hz, e.gyro, e.accel, str(e.path))
    return out
