"""Write the Xsens MT Manager export fixtures: a known stand + walk (tests/synthetic_gait.py) seen by sensors
mounted at the rotations in MOUNTINGS, written as MT Manager writes its text exports.

The layout follows the vendor (MTw Awinda / MTi user manuals: column names ``PacketCounter``, ``Acc_X``,
``Gyr_X``, ``Mat[r][c]`` = R_GS row r column c, ``Quat_q0..q3`` = q_GS) and real exports (the OpenSim project's
test data): ``//`` comment header, one tab-separated header line, a zero-padded 16-bit packet counter, unused
time columns empty (older MT Manager) or ``NaN`` (MT Manager 2022), the matrix listed column by column.

    .venv/bin/python tests/data/xsens/make_fixtures.py      # rewrites the fixtures (test_recordings checks they match)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from synthetic_gait import global_from_world, imu_readings, quaternions  # noqa: E402

RATE_HZ = 100.0
HEADING_DEG = 30.0
MOUNTINGS = {
    "acc_gyr_mat": {"pelvis": [4.0, 0.0, -6.0], "thigh_r": [15.0, -25.0, 80.0], "thigh_l": [-90.0, 12.0, -170.0]},
    "quat": {"thigh_r": [-10.0, 40.0, 5.0], "thigh_l": [170.0, -20.0, 95.0]},
    "orientation_only": {"thigh_r": [30.0, 10.0, -60.0]},
}
"""Sensor-to-segment roll-pitch-yaw (degrees, docs/conventions.md) of every sensor in every fixture."""
DEVICE_IDS = {"pelvis": "00B42D4B", "thigh_r": "00B42D4E", "thigh_l": "00B42D4F"}
MAT = [f"Mat[{r}][{c}]" for c in (1, 2, 3) for r in (1, 2, 3)]  # as MT Manager lists them: column by column
OLD_HEADER = [
    "// Start Time: Unknown",
    "// Update Rate: 100.0Hz",
    "// Filter Profile: human (46.1)",
    "// Option Flags: AHS Disabled ICC Disabled ",
    "// Firmware Version: 4.0.2",
]
OLD_TIME = ["SampleTimeFine", "Year", "Month", "Day", "Second", "UTC_Nano", "UTC_Year", "UTC_Month", "UTC_Day"]
OLD_TIME += ["UTC_Hour", "UTC_Minute", "UTC_Second", "UTC_Valid"]


def header_2022(device_id: str) -> list[str]:
    return [
        "// General information: ",
        "//  MT Manager version: 2022.2.0 ",
        "//  XDA version: 2022.2.0 build 7381 rev 124627 built on 2023-07-19",
        "// Device information: ",
        f"//  DeviceId: {device_id}",
        "//  ProductCode: MTW2-3A7G6",
        "//  Firmware Version: 4.4.0",
        "//  Hardware Version: 1.1.0",
        "// Device settings: ",
        "//  Filter Profile: human(46.1)",
        "//  Option Flags: Orientation Smoother Disabled, Position/Velocity Smoother Disabled, Continuous Zero "
        "Rotation Update Disabled, AHS Disabled, ICC Disabled",
        "// Coordinate system: ENU",
    ]


def fmt(values) -> list[str]:
    return [f"{v:.6f}" for v in values]


def write(path: Path, header: list[str], columns: list[str], rows: list[list[str]]) -> None:
    lines = [*header, "\t".join(columns), *("\t".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def sensor(name: str, rpy: list[float]) -> dict[str, np.ndarray]:
    reading = imu_readings(name, rpy, RATE_HZ, noise=1.0)
    reading["r_gs"] = global_from_world(HEADING_DEG) @ reading["r_w_sensor"]
    return reading


def acc_gyr_mat(folder: Path) -> None:
    """Older MT Manager: Acc, Gyr, Mat; 100 Hz stated; the counter wraps; sensors start apart; one packet lost."""
    files = {}
    for name, rpy in MOUNTINGS["acc_gyr_mat"].items():
        r = sensor(name, rpy)
        start = {"pelvis": 0, "thigh_r": 2, "thigh_l": 5}[name]  # each export starts a few packets apart
        keep = [k for k in range(start, len(r["time_s"])) if not (name == "pelvis" and k == 400)]
        rows = []
        for k in keep:
            mat = [r["r_gs"][k][rr, cc] for cc in range(3) for rr in range(3)]
            rows.append([f"{(65200 + k) % 65536:05d}", *[""] * 13, *fmt(r["accel"][k]), *fmt(r["gyro"][k]), *fmt(mat)])
        file = f"MT_012005D6_000-000_{DEVICE_IDS[name]}.txt"
        columns = ["PacketCounter", *OLD_TIME, "Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z", *MAT]
        write(folder / file, OLD_HEADER, columns, rows)
        files[name] = file
    write_map(folder, files, "Acc + Gyr + Mat exports of MT Manager 4.x: one per sensor, aligned on PacketCounter")


def quat(folder: Path) -> None:
    """MT Manager 2022: Acc, Gyr, Quat; no stated rate, SampleTimeFine (10 kHz ticks) gives it."""
    files = {}
    for name, rpy in MOUNTINGS["quat"].items():
        r = sensor(name, rpy)
        q = quaternions(r["r_gs"])
        rows = [
            [
                f"{1000 + k:05d}",
                f"{5_000_000 + 100 * k}",
                *["NaN"] * 4,
                *fmt(r["accel"][k]),
                *fmt(r["gyro"][k]),
                *fmt(q[k]),
            ]
            for k in range(len(r["time_s"]))
        ]
        columns = ["PacketCounter", "SampleTimeFine", "Year", "Month", "Day", "Second"]
        columns += ["Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z", "Quat_q0", "Quat_q1", "Quat_q2", "Quat_q3"]
        file = f"MT_01200627_000-000_{DEVICE_IDS[name]}.txt"
        write(folder / file, header_2022(DEVICE_IDS[name]), columns, rows)
        files[name] = file
    write_map(folder, files, "Acc + Gyr + Quat exports of MT Manager 2022")


def orientation_only(folder: Path) -> None:
    """MT Manager 2022: Acc and Mat only (no gyroscope exported); time columns NaN, so the map states the rate."""
    files = {}
    for name, rpy in MOUNTINGS["orientation_only"].items():
        r = sensor(name, rpy)
        rows = []
        for k in range(len(r["time_s"])):
            mat = [r["r_gs"][k][rr, cc] for cc in range(3) for rr in range(3)]
            rows.append([f"{20000 + k:05d}", *["NaN"] * 5, *fmt(r["accel"][k]), *fmt(mat)])
        columns = ["PacketCounter", "SampleTimeFine", "Year", "Month", "Day", "Second", "Acc_X", "Acc_Y", "Acc_Z", *MAT]
        file = f"MT_01200628_000-000_{DEVICE_IDS[name]}.txt"
        write(folder / file, header_2022(DEVICE_IDS[name]), columns, rows)
        files[name] = file
    write_map(folder, files, "Acc + Mat exports of MT Manager 2022, no gyroscope", rate_hz=RATE_HZ)


def write_map(folder: Path, files: dict[str, str], what: str, rate_hz: float | None = None) -> None:
    lines = [f"# {what}.", "kind: recording", "format: xsens"]
    lines += (
        [f"rate_hz: {rate_hz:g}  # the 2022 export states no rate and its SampleTimeFine is NaN"] if rate_hz else []
    )
    lines += ["imus:", *(f"  {name}: {{file: {file}}}" for name, file in files.items())]
    (folder / "recording.yaml").write_text("\n".join(lines) + "\n")


def main(root: Path = HERE) -> None:
    for make in (acc_gyr_mat, quat, orientation_only):
        folder = root / make.__name__
        folder.mkdir(parents=True, exist_ok=True)
        make(folder)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
