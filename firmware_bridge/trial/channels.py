"""The trial log's channels, in one place: topic → title, JSON Schema with named fields and units, and how a
loop record becomes a message. The logger writes the MCAP file from it; a live view advertises the same
channels with the same schemas from it (:func:`trial_channels`, :class:`TrialChannels`).

Every field has a title with its unit (``thigh_r.gyro_x [rad/s]``) and a description, so a viewer (Foxglove)
plots a named signal and ``docs/trials.md`` lists what each one is. ``/events`` uses Foxglove's ``foxglove.Log``
schema, so the Log panel shows them. Every message carries ``cycle`` where it belongs to a loop cycle: the
runtime's cycle counter, the key that joins IMU frames, commands, motor statuses and timing.

A value that was not finite (a NaN from the wire or the model) is written as ``null``: JSON has no NaN.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.runtime.safety import State
from firmware_bridge.runtime.timing import STAGES
from firmware_bridge.trial.packing import ImuFrames
from firmware_bridge.trial.records import CycleRecord, EventRecord

SCHEMA_ENCODING = "jsonschema"
MESSAGE_ENCODING = "json"
AXES = ("x", "y", "z")
GYRO = tuple(f"gyro_{a}" for a in AXES)
ACCEL = tuple(f"accel_{a}" for a in AXES)
STATES = ", ".join(f"{s.value} {s.name}" for s in State)
UNCONFIGURED_IMU = "imu{}"
"""The name of an IMU id the device config does not list (``imu7``)."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    """JSON Schema type: integer, number, boolean or string."""
    description: str
    unit: str = ""
    nullable: bool = False
    """A float from the wire or the model: ``null`` when it was not finite."""

    def label(self, prefix: str = "") -> str:
        """``thigh_r.gyro_x [rad/s]``: the name, with its unit when it has one."""
        return f"{prefix}{self.name}" + (f" [{self.unit}]" if self.unit else "")

    def schema(self, prefix: str = "") -> dict[str, Any]:
        text = self.description + (f" ({self.unit})" if self.unit else "")
        return {
            "type": [self.type, "null"] if self.nullable else self.type,
            "title": self.label(prefix),
            "description": text + ("; null when not finite" if self.nullable else ""),
        }


@dataclass(frozen=True)
class ChannelSpec:
    topic: str
    title: str
    """The schema name (``hipexo.ImuFrame``, ``foxglove.Log``)."""
    description: str
    schema: dict[str, Any] = field(compare=False)

    @property
    def schema_data(self) -> bytes:
        return json.dumps(self.schema).encode()


def _object(title: str, description: str, fields: Iterable[Field], prefix: str = "") -> dict[str, Any]:
    fields = list(fields)
    return {
        "title": title,
        "description": description,
        "type": "object",
        "properties": {f.name: f.schema(prefix) for f in fields},
        "required": [f.name for f in fields],
        "additionalProperties": False,
    }


CYCLE = Field("cycle", "integer", "runtime cycle counter: joins IMU frames, commands, statuses and timing")
READING_FIELDS = (
    Field("imu_id", "integer", "IMU id on the wire"),
    *(
        Field(g, "number", f"angular velocity about the sensor {a} axis", "rad/s", True)
        for g, a in zip(GYRO, AXES, strict=True)
    ),
    *(
        Field(c, "number", f"specific force along the sensor {a} axis, gravity included", "m/s²", True)
        for c, a in zip(ACCEL, AXES, strict=True)
    ),
    Field("status", "integer", "IMU status byte as sent (0 = healthy)"),
)
FRAME_FIELDS = (
    Field("cycle", "integer", "runtime cycle that took this frame in"),
    Field("seq", "integer", "frame sequence number (u16, wraps)"),
    Field("device_time_us", "integer", "IMU firmware clock", "µs"),
)
CHANNEL_FIELDS: dict[str, tuple[str, str, tuple[Field, ...]]] = {
    "/student/output": (
        "hipexo.ControllerOutput",
        "normalised hip command from the controller (student or baseline), before shaping",
        (
            CYCLE,
            Field("right", "number", "right hip command, 1 = full scale, + flexion", nullable=True),
            Field("left", "number", "left hip command, 1 = full scale, + flexion", nullable=True),
        ),
    ),
    "/torque/shaped": (
        "hipexo.ShapedTorque",
        "hip torque after the shaping chain: what the runtime commands",
        (
            CYCLE,
            Field("right_nm", "number", "right hip torque, + flexion", "N·m", True),
            Field("left_nm", "number", "left hip torque, + flexion", "N·m", True),
            Field("clamped", "boolean", "the hard clamp limited this cycle's torque"),
            Field("rate_limited", "boolean", "the rate limit limited this cycle's torque"),
        ),
    ),
    "/motor/command": (
        "hipexo.MotorCommand",
        "torque command frame sent to the motor controller (none while the port is down)",
        (
            CYCLE,
            Field("seq", "integer", "command frame sequence number (u16, wraps)"),
            Field("right_nm", "number", "right hip torque sent, + flexion", "N·m", True),
            Field("left_nm", "number", "left hip torque sent, + flexion", "N·m", True),
            Field("flags", "integer", "command flags (bit 0: torque enabled)"),
            Field("state", "integer", f"runtime state ({STATES})"),
        ),
    ),
    "/motor/status": (
        "hipexo.MotorStatus",
        "status frame from the motor controller, logged with the cycle that read it",
        (
            CYCLE,
            Field("echo_seq", "integer", "sequence number of the command it answers"),
            Field("measured_right_nm", "number", "right hip torque measured, + flexion", "N·m", True),
            Field("measured_left_nm", "number", "left hip torque measured, + flexion", "N·m", True),
            Field("fault_bits", "integer", "controller fault bits (0 = none)"),
            Field("flags", "integer", "controller status flags"),
            Field("round_trip_ms", "number", "command sent → this status read (also null when unknown)", "ms", True),
        ),
    ),
    "/timing": (
        "hipexo.CycleTiming",
        "per-cycle loop timing and state",
        (
            CYCLE,
            Field("state", "integer", f"runtime state ({STATES})"),
            Field("lateness_us", "number", "cycle start after it was due", "µs"),
            Field("skipped", "integer", "whole periods skipped before this cycle"),
            Field("overrun", "boolean", "the cycle's work ran past the next period's deadline"),
            Field("triggered", "boolean", "started by a complete IMU sample, not by the deadline"),
            Field("log_drops", "integer", "log records dropped so far (logger pipe full)"),
            *(Field(f"{stage}_us", "number", f"time of the {stage} stage", "µs") for stage in STAGES),
        ),
    ),
}

LOG_LEVELS = {"UNKNOWN": 0, "DEBUG": 1, "INFO": 2, "WARNING": 3, "ERROR": 4, "FATAL": 5}
EVENT_LEVELS = {"fault": LOG_LEVELS["ERROR"], "warning": LOG_LEVELS["WARNING"]}
"""Log level per event kind; every other kind (state, marker, info, link) is INFO."""
EVENT_FIELDS = (
    Field("state", "string", "state entered (state and fault events)"),
    Field("previous", "string", "state left (state and fault events)"),
    Field("t_cycle", "integer", "cycle counter at the transition"),
    Field("traceback", "string", "Python traceback of an internal error"),
)
FOXGLOVE_LOG = {
    "title": "foxglove.Log",
    "description": "A log message",
    "type": "object",
    "properties": {
        "timestamp": {
            "type": "object",
            "title": "time",
            "properties": {
                "sec": {"type": "integer", "minimum": 0},
                "nsec": {"type": "integer", "minimum": 0, "maximum": 999999999},
            },
            "description": "Timestamp of log message",
        },
        "level": {
            "title": "foxglove.LogLevel",
            "description": "Log level",
            "oneOf": [{"title": name, "const": value} for name, value in LOG_LEVELS.items()],
        },
        "message": {"type": "string", "description": "Log message"},
        "name": {"type": "string", "description": "Process or node name"},
        "file": {"type": "string", "description": "Filename"},
        "line": {"type": "integer", "minimum": 0, "description": "Line number in the file"},
    },
    "required": ["timestamp", "level", "message", "name", "file", "line"],
}
"""Foxglove's published JSON Schema for ``foxglove.Log`` (foxglove-sdk schemas/jsonschema/Log.json)."""


def _events_schema() -> dict[str, Any]:
    """Foxglove's schema as published, plus the fields some events carry (``name`` holds the event's kind)."""
    schema = json.loads(json.dumps(FOXGLOVE_LOG))
    schema["properties"].update({f.name: f.schema() for f in EVENT_FIELDS})
    return schema


def imu_name(imu_id: int, names: Mapping[int, str]) -> str:
    return names.get(imu_id) or UNCONFIGURED_IMU.format(imu_id)


def trial_channels(imus: Mapping[str, int]) -> dict[str, ChannelSpec]:
    """Every channel of a trial log, in order, for a device with these IMUs (name → id on the wire)."""
    frame_fields = {f.name: f.schema() for f in FRAME_FIELDS}
    readings = {
        name: _object("hipexo.ImuReading", f"the {name} IMU (id {imu_id}), sensor frame", READING_FIELDS, f"{name}.")
        for name, imu_id in imus.items()
    }
    imu_schema = {
        "title": "hipexo.ImuFrame",
        "description": "IMU frame as received; one object per IMU it carried, named as in the device config",
        "type": "object",
        "properties": {**frame_fields, **readings},
        "patternProperties": {
            "^imu[0-9]+$": _object("hipexo.ImuReading", "an IMU id the device config does not name", READING_FIELDS)
        },
        "required": list(frame_fields),
        "additionalProperties": False,
    }
    channels = {
        "/imu/raw": ChannelSpec(
            "/imu/raw", "hipexo.ImuFrame", "IMU frames as received, stamped with their arrival", imu_schema
        )
    }
    for topic, (title, description, fields) in CHANNEL_FIELDS.items():
        channels[topic] = ChannelSpec(topic, title, description, _object(title, description, fields))
    channels["/events"] = ChannelSpec(
        "/events", "foxglove.Log", "state changes, faults, markers, warnings (Foxglove Log panel)", _events_schema()
    )
    return channels


def json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def encode(message: dict[str, Any]) -> bytes:
    """JSON bytes; a non-finite float becomes ``null`` (checked on the text, so the common case costs nothing)."""
    text = json.dumps(message)
    if "NaN" in text or "Infinity" in text:
        text = json.dumps(json_safe(message))
    return text.encode()


Message = tuple[str, int, dict[str, Any]]
"""(topic, time ns on the loop's clock, message)."""


class TrialChannels:
    """The channels of one device's trial log and how the loop's records become their messages."""

    def __init__(self, imus: Mapping[str, int]):
        self.specs = trial_channels(imus)
        self._names = {imu_id: name for name, imu_id in imus.items()}

    def imu_messages(self, frames: list[tuple[int, int, int, tuple]], cycle: int) -> list[Message]:
        """``/imu/raw`` messages, stamped with their arrival time."""
        out = []
        for seq, device_time_us, received_ns, readings in frames:
            message: dict[str, Any] = {"cycle": cycle, "seq": seq, "device_time_us": device_time_us}
            for imu_id, gyro, accel, status in readings:
                message[imu_name(imu_id, self._names)] = {
                    "imu_id": imu_id,
                    "gyro_x": gyro[0],
                    "gyro_y": gyro[1],
                    "gyro_z": gyro[2],
                    "accel_x": accel[0],
                    "accel_y": accel[1],
                    "accel_z": accel[2],
                    "status": status,
                }
            out.append(("/imu/raw", received_ns, message))
        return out

    def encoded_messages(self, item: Any, wall_offset_ns: int) -> list[tuple[str, int, bytes]]:
        """One record from the loop (``packing.unpack``) as (topic, t_ns, JSON body): what the trial log and the
        live view carry; anything else (the logger's own stop) gives none."""
        if isinstance(item, CycleRecord):
            messages = self.cycle_messages(item)
        elif isinstance(item, ImuFrames):
            messages = self.imu_messages(item.frames, item.cycle)
        elif isinstance(item, EventRecord):
            messages = [event_record_message(item, wall_offset_ns)]
        else:
            messages = []
        return [(topic, t_ns, encode(body)) for topic, t_ns, body in messages]

    def cycle_messages(self, record: CycleRecord) -> list[Message]:
        """One cycle as (topic, t_ns, message) triples."""
        t, cycle = record.t_ns, record.cycle
        out = self.imu_messages(record.imu_frames, cycle)
        if record.command is not None:
            out.append(("/student/output", t, {"cycle": cycle, "right": record.command[0], "left": record.command[1]}))
        right, left, clamped, rate_limited = record.shaped
        out.append(
            (
                "/torque/shaped",
                t,
                {"cycle": cycle, "right_nm": right, "left_nm": left, "clamped": clamped, "rate_limited": rate_limited},
            )
        )
        if record.sent is not None:
            seq, r, le, flags = record.sent
            command = {"cycle": cycle, "seq": seq, "right_nm": r, "left_nm": le, "flags": flags, "state": record.state}
            out.append(("/motor/command", t, command))
        for echo, mr, ml, faults, flags, rtt in record.statuses:
            status = {
                "cycle": cycle,
                "echo_seq": echo,
                "measured_right_nm": mr,
                "measured_left_nm": ml,
                "fault_bits": faults,
                "flags": flags,
                "round_trip_ms": rtt,
            }
            out.append(("/motor/status", t, status))
        timing = {
            "cycle": cycle,
            "state": record.state,
            "lateness_us": record.lateness_ns / 1e3,
            "skipped": record.skipped,
            "overrun": record.overrun,
            "triggered": record.triggered,
            "log_drops": record.log_drops,
        }
        timing.update({f"{name}_us": ns / 1e3 for name, ns in zip(STAGES, record.stage_ns, strict=True)})
        out.append(("/timing", t, timing))
        return out


def event_message(kind: str, text: str, fields: Mapping[str, Any], wall_ns: int) -> dict[str, Any]:
    """A ``foxglove.Log`` message: ``name`` is the event's kind, ``message`` its text; its fields ride along."""
    return {
        "timestamp": {"sec": wall_ns // 1_000_000_000, "nsec": wall_ns % 1_000_000_000},
        "level": EVENT_LEVELS.get(kind, LOG_LEVELS["INFO"]),
        "message": text,
        "name": kind,
        "file": "",
        "line": 0,
        **fields,
    }


def event_record_message(event: EventRecord, wall_offset_ns: int) -> Message:
    return ("/events", event.t_ns, event_message(event.kind, event.text, event.fields, event.t_ns + wall_offset_ns))
