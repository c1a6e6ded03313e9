"""A recording map (``kind: recording``): which file, and which columns, hold each IMU (docs/recordings.md).

Xsens exports are one file per sensor, so the map names each IMU's file. A generic CSV needs its columns named
and its units stated; its sample times come from a time column or, without one, from ``rate_hz`` (then each
file's first row is time zero).
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware_bridge.config.schema import register_kind, spec
from firmware_bridge.conventions import GRAVITY_M_S2
from recordings.orientation import angular_velocity, quaternion_matrices
from recordings.recording import ImuStream, RecordingError, check_increasing, read_lines

TIME_UNITS_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
GYRO_UNITS_RAD_S = {"rad/s": 1.0, "deg/s": math.pi / 180.0}
ACCEL_UNITS_M_S2 = {"m/s2": 1.0, "g": GRAVITY_M_S2}


@dataclass(frozen=True)
class ImuColumns:
    file: str = spec(
        "", doc="xsens: this sensor's export; csv: its file when not the map's 'file' (relative: to the map)"
    )
    gyro: list[str] = spec([], doc="csv: the x, y, z gyroscope columns")
    accel: list[str] = spec([], doc="csv: the x, y, z accelerometer columns")
    quat: list[str] = spec([], doc="csv: w, x, y, z sensor-to-global orientation columns, when there is no gyroscope")


@dataclass(frozen=True)
class RecordingMap:
    imus: dict[str, ImuColumns] = spec(doc="device IMU name (pelvis, thigh_r, thigh_l) → where its data is")
    format: str = spec("auto", choices=("auto", "xsens", "csv"), doc="auto: by extension (.csv) or header (//)")
    file: str = spec("", doc="csv: the file holding the IMUs' columns (relative: to the map)")
    rate_hz: float | None = spec(
        None, gt=0.0, doc="xsens: when the export does not state it; csv: when there is no time column"
    )
    time_column: str = spec("", doc="csv: the sample time column")
    time_unit: str = spec("s", choices=tuple(TIME_UNITS_S))
    gyro_unit: str = spec("rad/s", choices=tuple(GYRO_UNITS_RAD_S))
    accel_unit: str = spec("m/s2", choices=tuple(ACCEL_UNITS_M_S2))
    delimiter: str = spec(",", doc="csv: the column separator ('\\t' for tabs)")

    def validate(self) -> list[str]:
        problems = []
        if not self.imus:
            problems.append("imus: name at least one IMU")
        for name, imu in self.imus.items():
            where = f"imus.{name}"
            if self.format == "xsens" and not imu.file:
                problems.append(f"{where}.file: an Xsens export holds one sensor: name its file")
            if self.format != "csv":
                continue
            if not (imu.file or self.file):
                problems.append(f"{where}.file: no file for this IMU and no 'file' for the whole map")
            if len(imu.accel) != 3:
                problems.append(f"{where}.accel: name the x, y, z columns (got {imu.accel})")
            if len(imu.gyro) != 3 and len(imu.quat) != 4:
                problems.append(f"{where}: name the gyro x, y, z columns, or the quat w, x, y, z columns")
        if self.format == "csv" and not (self.time_column or self.rate_hz):
            problems.append("time_column: give the time column, or rate_hz when there is none")
        return problems


register_kind("recording", RecordingMap)


def read_csv_imu(path: Path, imu: str, columns: ImuColumns, recording: RecordingMap) -> ImuStream:
    """One IMU's columns of a CSV file, in SI units and on the file's clock."""
    numbered = [(n, line) for n, line in enumerate(read_lines(path), 1) if line.strip() and not line.startswith("#")]
    line_of_row = [n for n, _ in numbered]
    delimiter = "\t" if recording.delimiter in ("\\t", "tab") else recording.delimiter
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in numbered)), delimiter=delimiter))
    if not rows:
        raise RecordingError(f"{path}: no header line of column names")
    header = [name.strip() for name in rows[0]]
    where = {name: k for k, name in enumerate(header)}
    wanted = {"accel": columns.accel, "gyro": columns.gyro if len(columns.gyro) == 3 else columns.quat}
    if recording.time_column:
        wanted["time"] = [recording.time_column]
    for signal, names in wanted.items():
        for name in names:
            if name not in where:
                close = difflib.get_close_matches(name, header, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise RecordingError(f"{path}: no column {name!r} for {imu}.{signal} in the header{hint}")
    if len(rows) < 3:
        raise RecordingError(f"{path}: fewer than two samples")
    order = [name for names in wanted.values() for name in names]
    table = np.empty((len(rows) - 1, len(order)))
    for i, row in enumerate(rows[1:]):
        for j, name in enumerate(order):
            text = row[where[name]].strip() if where[name] < len(row) else ""
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                shown = repr(text) if text else "empty"
                raise RecordingError(f"{path}:{line_of_row[i + 1]}: {name} is {shown}, not a finite number")
            table[i, j] = value
    values = dict(zip(order, table.T, strict=True))
    if recording.time_column:
        time_s = values[recording.time_column] * TIME_UNITS_S[recording.time_unit]
        labels = [row[where[recording.time_column]].strip() for row in rows[1:]]
        check_increasing(path, time_s, np.array(line_of_row[1:]), recording.time_column, labels)
    else:
        time_s = np.arange(len(table)) / recording.rate_hz
    accel = np.column_stack([values[n] for n in columns.accel]) * ACCEL_UNITS_M_S2[recording.accel_unit]
    if len(columns.gyro) == 3:
        gyro = np.column_stack([values[n] for n in columns.gyro]) * GYRO_UNITS_RAD_S[recording.gyro_unit]
    else:
        gyro = angular_velocity(time_s, quaternion_matrices(np.column_stack([values[n] for n in columns.quat])))
    return ImuStream(time_s, gyro, accel, str(path))
