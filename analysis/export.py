"""``hipexo trial export``: one table per trial, one row per runtime cycle, as CSV and Parquet.

What a gait lab loads with no options (``pd.read_csv(path)``, ``pd.read_parquet(path)``, MATLAB
``readtable(path, "VariableNamingRule", "preserve")``): ``time_s`` from the trial's first cycle, the ``cycle``
counter that joins the log's channels, the runtime state and the fault in force, each IMU's gyroscope and
accelerometer by name (the newest frame the cycle took in; ``imu_frames`` says how many it took), the
controller's command, the torque commanded and measured, and the cycle's timing. Units are in the header
(``thigh_r.gyro_x [rad/s]``, ``torque_cmd_r [N·m]``), taken from the log's channel registry
(firmware_bridge/trial/channels.py). A value that was not logged or not finite is empty in the CSV and NaN in
Parquet (no fault: an empty cell, a null). Flags are 0/1.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge.protocol.messages import CommandFlags
from firmware_bridge.runtime.safety import State
from firmware_bridge.trial.channels import ACCEL, CHANNEL_FIELDS, GYRO, READING_FIELDS
from firmware_bridge.trial.faults import fault_episodes
from firmware_bridge.trial.reader import TrialLog

FORMATS = ("csv", "parquet")
PER_CYCLE = (
    # (column, channel, field): the newest message of that channel in the cycle; its unit from the registry
    ("command_norm_r", "/student/output", "right"),
    ("command_norm_l", "/student/output", "left"),
    ("torque_cmd_r", "/torque/shaped", "right_nm"),
    ("torque_cmd_l", "/torque/shaped", "left_nm"),
    ("clamped", "/torque/shaped", "clamped"),
    ("rate_limited", "/torque/shaped", "rate_limited"),
    ("torque_measured_r", "/motor/status", "measured_right_nm"),
    ("torque_measured_l", "/motor/status", "measured_left_nm"),
    ("motor_fault_bits", "/motor/status", "fault_bits"),
    ("round_trip", "/motor/status", "round_trip_ms"),
    ("lateness", "/timing", "lateness_us"),
    ("skipped", "/timing", "skipped"),
    ("overrun", "/timing", "overrun"),
)
UNITS = {(topic, f.name): f.unit for topic, (_, _, fields) in CHANNEL_FIELDS.items() for f in fields} | {
    ("/imu/raw", f.name): f.unit for f in READING_FIELDS
}
MATLAB = 'T = readtable("{path}", "VariableNamingRule", "preserve");'


def _label(name: str, topic: str, field: str) -> str:
    unit = UNITS[(topic, field)]
    return f"{name} [{unit}]" if unit else name


def _number(value: Any) -> float:
    """A logged value as a float: ``None`` (not logged, or not finite when logged) is NaN; booleans are 0/1."""
    return math.nan if value is None else float(value)


def _newest(log: TrialLog, topic: str, rows: dict[int, int]) -> list[dict[str, Any] | None]:
    """Per row, the last message of ``topic`` logged with that row's cycle (None when there is none)."""
    out: list[dict[str, Any] | None] = [None] * len(rows)
    for message in log.topic(topic):
        row = rows.get(message.get("cycle", -1))
        if row is not None:
            out[row] = message
    return out


def trial_table(log: TrialLog) -> dict[str, np.ndarray]:
    """The merged table: column header → values (one per cycle, in cycle order)."""
    timing = sorted(log.messages.get("/timing", []), key=lambda item: item[1]["cycle"])
    times = np.array([t for t, _ in timing], dtype=np.int64)
    cycles = np.array([m["cycle"] for _, m in timing], dtype=np.int64)
    rows = {int(c): k for k, c in enumerate(cycles)}
    table: dict[str, np.ndarray] = {
        "time_s": (times - times[0]) / 1e9 if len(times) else np.zeros(0),
        "cycle": cycles,
        "state": np.array([State(m["state"]).name for _, m in timing], dtype=object),
        "fault": _faults(log, times),
    }
    frames = _newest(log, "/imu/raw", rows)
    readings = {k: v for frame in frames if frame for k, v in frame.items() if isinstance(v, dict)}
    for name in sorted(readings, key=lambda n: readings[n]["imu_id"]):
        for field in GYRO + ACCEL:
            values = [_number(frame.get(name, {}).get(field)) if frame else math.nan for frame in frames]
            table[f"{name}.{_label(field, '/imu/raw', field)}"] = np.array(values)
    counts = np.zeros(len(rows), dtype=np.int64)
    for message in log.topic("/imu/raw"):
        if message["cycle"] in rows:
            counts[rows[message["cycle"]]] += 1
    table["imu_frames"] = counts
    for name, topic, field in PER_CYCLE:
        newest = _newest(log, topic, rows)
        values = np.array([_number(m[field]) if m else math.nan for m in newest])
        always = all(m is not None and m[field] is not None for m in newest)
        table[_label(name, topic, field)] = values.astype(np.int64) if always and _integral(topic, field) else values
    sent = _newest(log, "/motor/command", rows)
    table["command_sent"] = np.array([m is not None for m in sent], dtype=np.int64)
    table["torque_enabled"] = np.array([bool(m and m["flags"] & CommandFlags.ENABLE) for m in sent], dtype=np.int64)
    return table


def _integral(topic: str, field: str) -> bool:
    (kind,) = {f.type for f in CHANNEL_FIELDS[topic][2] if f.name == field}
    return kind in ("integer", "boolean")


def _faults(log: TrialLog, times: np.ndarray) -> np.ndarray:
    """Per cycle, the reasons of the fault episode in force (None outside one); an episode that ended the run
    or has no end in the log lasts to the end."""
    out = np.full(len(times), None, dtype=object)
    for episode in fault_episodes(log.messages.get("/events", [])):
        end = episode.end_ns if episode.outcome == "recovered" else np.iinfo(np.int64).max
        out[(times >= episode.onset_ns) & (times < end)] = "; then ".join(episode.reasons)
    return out


def write_csv(table: dict[str, np.ndarray], path: Path) -> Path:
    """UTF-8 CSV, header with units; floats at full precision, an empty cell for NaN."""
    columns = [[_cell(v) for v in values] for values in table.values()]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(table)
        writer.writerows(zip(*columns, strict=True))
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else repr(float(value))
    return str(value)


def write_parquet(table: dict[str, np.ndarray], path: Path, metadata: dict[str, dict[str, str]]) -> Path:
    """Parquet (pyarrow), with the log's trial metadata in the file's key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {name: pa.array(list(v) if v.dtype == object else v) for name, v in table.items()}
    trial = {"hipexo.trial": json.dumps(metadata.get("trial", {}))}
    pq.write_table(pa.table(arrays).replace_schema_metadata(trial), path)
    return path


def export_trial(log: TrialLog, out_dir: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """``<trial name>.csv`` and/or ``.parquet`` in ``out_dir``; Parquet needs pyarrow (raises ModuleNotFoundError)."""
    if "parquet" in formats:
        import pyarrow  # noqa: F401  (before anything is written: a missing extra leaves no half export)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = trial_table(log)
    written = []
    if "csv" in formats:
        written.append(write_csv(table, out_dir / f"{log.path.stem}.csv"))
    if "parquet" in formats:
        written.append(write_parquet(table, out_dir / f"{log.path.stem}.parquet", log.metadata))
    return written
