"""Logs of the first format (every channel on one untyped schema, ``hipexo.Json``), read as the current format.

What changed: IMU readings were a list (``readings[k].gyro[2]``) and are now named objects (``thigh_r.gyro_z``);
IMU frames and motor statuses had no cycle (the cycle that took them in is recovered from the log's times: a
cycle uses the frames that arrived before its read stage ended, and a status is stamped with its cycle's time);
events were ``{kind, text, ...}`` and are now ``foxglove.Log`` (``name`` = kind, ``message`` = text).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml

from firmware_bridge.trial.channels import ACCEL, GYRO, event_message, imu_name, json_safe

SCHEMA_NAME = "hipexo.Json"


def imu_names(metadata: dict[str, dict[str, str]]) -> dict[int, str]:
    """IMU id → name from the device config the log carries (none: ``imu<id>`` names)."""
    device = yaml.safe_load(metadata.get("config_device", {}).get("yaml", "") or "{}") or {}
    return {int(imu["imu_id"]): str(imu["name"]) for imu in device.get("imus", []) if "imu_id" in imu}


def upgrade(messages: dict[str, list[tuple[int, dict[str, Any]]]], metadata: dict[str, dict[str, str]]) -> None:
    """Rewrite a first-format log's messages, in place, into the current channels' messages."""
    timing = messages.get("/timing", [])
    times = np.array([t for t, _ in timing], dtype=np.int64)
    cycles = np.array([m["cycle"] for _, m in timing], dtype=np.int64)
    read_end = times + np.array([round(1e3 * m.get("read_us", 0.0)) for _, m in timing], dtype=np.int64)

    def cycle_at(t_ns: int, ends: np.ndarray) -> int:
        if not len(cycles):
            return 0
        return int(cycles[min(int(np.searchsorted(ends, t_ns, side="left")), len(cycles) - 1)])

    names = imu_names(metadata)
    if "/imu/raw" in messages:
        messages["/imu/raw"] = [(t, _frame(m, cycle_at(t, read_end), names)) for t, m in messages["/imu/raw"]]
    if "/motor/status" in messages:
        messages["/motor/status"] = [(t, {"cycle": cycle_at(t, times), **m}) for t, m in messages["/motor/status"]]
    if "/events" in messages:
        messages["/events"] = [
            (t, event_message(m.get("kind", ""), m.get("text", ""), _rest(m, ("kind", "text")), t))
            for t, m in messages["/events"]
        ]


def _rest(message: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in drop}


def _frame(message: dict[str, Any], cycle: int, names: dict[int, str]) -> dict[str, Any]:
    frame: dict[str, Any] = {"cycle": cycle, "seq": message["seq"], "device_time_us": message["device_time_us"]}
    for r in message.get("readings", []):
        gyro, accel = dict(zip(GYRO, r["gyro"], strict=True)), dict(zip(ACCEL, r["accel"], strict=True))
        frame[imu_name(r["imu_id"], names)] = json_safe({"imu_id": r["imu_id"], **gyro, **accel, "status": r["status"]})
    return frame
