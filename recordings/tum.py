"""The TUM adaptive-oscillators walking recordings (shared/data/tum-ao-imu-walking, MIT).

A recording is a folder of gzipped tab-separated tables, ``{Gyroscopes,Accelerometers}_{left,right}.txt.gz``:
a header line, then a time of day (``HH:MM:SS.ffffff``) and x, y, z of four sensors per side (Pelvis, UppLeg,
LowLeg, Foot). Gyroscopes are in deg/s, accelerometers in m/s². The sensors' mounting is undocumented.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from recordings.recording import ImuStream, Recording, RecordingError, check_increasing, read_lines

SEGMENTS = ("Pelvis", "UppLeg", "LowLeg", "Foot")
FIELDS = 1 + 3 * len(SEGMENTS)
IMUS = {"pelvis": ("right", "Pelvis"), "thigh_r": ("right", "UppLeg"), "thigh_l": ("left", "UppLeg")}
"""Device IMU → (file side, segment): the right file's pelvis sensor is the belt's."""


def read_tum(folder: Path) -> Recording:
    """The pelvis and both thigh sensors of a TUM recording folder, gyro converted to rad/s."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordingError(f"{folder}: no such recording folder")
    tables = {}
    for side in ("left", "right"):
        for kind in ("Gyroscopes", "Accelerometers"):
            path = folder / f"{kind}_{side}.txt.gz"
            if not path.exists():
                raise RecordingError(
                    f"{folder}: missing {path.name} (read as a TUM recording: for other formats put a recording.yaml "
                    "map in the folder, docs/recordings.md)"
                )
            tables[kind, side] = _read_table(path)
    imus = {}
    for name, (side, segment) in IMUS.items():
        columns = slice(SEGMENTS.index(segment) * 3, SEGMENTS.index(segment) * 3 + 3)
        t_g, gyro = tables["Gyroscopes", side]
        t_a, accel = tables["Accelerometers", side]
        accel = accel[:, columns]
        if not np.array_equal(t_g, t_a):  # one clock per sensor: accel onto the gyro's sample times
            accel = np.column_stack([np.interp(t_g, t_a, accel[:, i]) for i in range(3)])
        origin = f"{folder}/{{Gyroscopes,Accelerometers}}_{side}.txt.gz ({segment})"
        imus[name] = ImuStream(t_g, gyro[:, columns] * math.pi / 180.0, accel, origin)
    return Recording(folder, "tum", imus)


def _read_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times (s of the day, continuing past midnight) and the 12 value columns of one table."""
    lines = read_lines(path)
    times, values = [], []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != FIELDS:
            raise RecordingError(
                f"{path}:{number}: expected {FIELDS} tab-separated fields (time and 4 segments × xyz), "
                f"got {len(fields)}: missing or extra columns"
            )
        try:
            h, m, s = fields[0].split(":")
            times.append(int(h) * 3600 + int(m) * 60 + float(s))
            row = [float(v) for v in fields[1:]]
        except ValueError as exc:
            raise RecordingError(f"{path}:{number}: not a time and 12 numbers ({exc})") from exc
        bad = [k for k, v in enumerate(row) if not math.isfinite(v)]
        if bad or not math.isfinite(times[-1]):
            raise RecordingError(
                f"{path}:{number}: value {fields[1 + bad[0]] if bad else fields[0]!r} is not a finite number"
            )
        values.append(row)
    t = np.array(times)
    if len(t):
        t = np.where(t < t[0], t + 86400.0, t)  # past midnight
    labels = [line.split("\t")[0] for line in lines[1:]]
    check_increasing(path, t, np.arange(2, len(t) + 2), "time", labels)
    return t, np.array(values)
