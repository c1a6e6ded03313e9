"""Message payloads of the hipexo wire protocol (docs/protocol.md specifies every byte).

All multi-byte fields are little-endian; physical values are IEEE-754 float32 in SI units, which the
Cortex-M4F/M7-class controllers on both ends handle natively and which keeps NaN visible as NaN.
Each message knows its type code and how to pack and unpack its payload; unpacking checks the exact
payload length and raises :class:`PayloadError` otherwise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, NamedTuple

PROTOCOL_VERSION = 1
MAX_IMUS_PER_SAMPLE = 8
MAX_FAULT_TEXT_BYTES = 64


class MessageType(IntEnum):
    IMU_SAMPLE = 0x01
    TORQUE_COMMAND = 0x02
    CONTROLLER_STATUS = 0x03
    HEARTBEAT = 0x04
    FAULT_REPORT = 0x05


class PayloadError(ValueError):
    """A payload whose length or content does not fit its message type."""


class ImuStatus(IntFlag):
    NONE = 0
    GYRO_SATURATED = 0x01
    ACCEL_SATURATED = 0x02
    SENSOR_ERROR = 0x04


class CommandFlags(IntFlag):
    NONE = 0
    ENABLE = 0x01


class ControllerFlags(IntFlag):
    NONE = 0
    ESTOP = 0x01
    ENABLED = 0x02


class ControllerFault(IntFlag):
    NONE = 0
    COMMAND_WATCHDOG = 0x0001
    OVER_CURRENT = 0x0002
    OVER_TEMPERATURE = 0x0004
    INVALID_COMMAND = 0x0008
    INTERNAL = 0x8000


class ImuReading(NamedTuple):
    """One IMU's sample: gyroscope rad/s and accelerometer m/s^2 (gravity included), sensor frame."""

    imu_id: int
    gyro: tuple[float, float, float]
    accel: tuple[float, float, float]
    status: int = 0


_IMU_COUNT = struct.Struct("<B")
_IMU_READING = struct.Struct("<BB6f")


@dataclass(frozen=True, slots=True)
class ImuSample:
    """Simultaneous readings of one or more IMUs (type 0x01)."""

    TYPE: ClassVar[MessageType] = MessageType.IMU_SAMPLE
    readings: tuple[ImuReading, ...]

    def pack(self) -> bytes:
        if not 1 <= len(self.readings) <= MAX_IMUS_PER_SAMPLE:
            raise PayloadError(f"IMU sample must carry 1..{MAX_IMUS_PER_SAMPLE} readings, got {len(self.readings)}")
        parts = [_IMU_COUNT.pack(len(self.readings))]
        for r in self.readings:
            parts.append(_IMU_READING.pack(r.imu_id, r.status, *r.gyro, *r.accel))
        return b"".join(parts)

    @classmethod
    def unpack(cls, payload: bytes) -> ImuSample:
        if not payload:
            raise PayloadError("IMU sample payload is empty")
        count = payload[0]
        if not 1 <= count <= MAX_IMUS_PER_SAMPLE:
            raise PayloadError(f"IMU sample announces {count} readings, allowed 1..{MAX_IMUS_PER_SAMPLE}")
        expected = 1 + count * _IMU_READING.size
        if len(payload) != expected:
            raise PayloadError(f"IMU sample with {count} readings needs {expected} bytes, got {len(payload)}")
        readings = []
        for imu_id, status, gx, gy, gz, ax, ay, az in _IMU_READING.iter_unpack(payload[1:]):
            readings.append(ImuReading(imu_id, (gx, gy, gz), (ax, ay, az), status))
        return cls(tuple(readings))


_TORQUE = struct.Struct("<ffBB")


@dataclass(frozen=True, slots=True)
class TorqueCommand:
    """Hip torque to apply, N·m per side, positive assists flexion (type 0x02)."""

    TYPE: ClassVar[MessageType] = MessageType.TORQUE_COMMAND
    right_nm: float
    left_nm: float
    flags: int = CommandFlags.NONE
    state: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.flags & CommandFlags.ENABLE)

    def pack(self) -> bytes:
        return _TORQUE.pack(self.right_nm, self.left_nm, self.flags, self.state)

    @classmethod
    def unpack(cls, payload: bytes) -> TorqueCommand:
        _require_length(payload, _TORQUE.size, "torque command")
        return cls(*_TORQUE.unpack(payload))


_STATUS = struct.Struct("<HffHB")


@dataclass(frozen=True, slots=True)
class ControllerStatus:
    """Motor-controller reply: the seq of the command it applies, measured torque, faults (type 0x03)."""

    TYPE: ClassVar[MessageType] = MessageType.CONTROLLER_STATUS
    echo_seq: int
    measured_right_nm: float
    measured_left_nm: float
    fault_bits: int = ControllerFault.NONE
    flags: int = ControllerFlags.NONE

    @property
    def estop(self) -> bool:
        return bool(self.flags & ControllerFlags.ESTOP)

    def pack(self) -> bytes:
        return _STATUS.pack(self.echo_seq, self.measured_right_nm, self.measured_left_nm, self.fault_bits, self.flags)

    @classmethod
    def unpack(cls, payload: bytes) -> ControllerStatus:
        _require_length(payload, _STATUS.size, "controller status")
        return cls(*_STATUS.unpack(payload))


_HEARTBEAT = struct.Struct("<B")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Sent every cycle so the other end's watchdog knows the sender is alive (type 0x04)."""

    TYPE: ClassVar[MessageType] = MessageType.HEARTBEAT
    state: int = 0

    def pack(self) -> bytes:
        return _HEARTBEAT.pack(self.state)

    @classmethod
    def unpack(cls, payload: bytes) -> Heartbeat:
        _require_length(payload, _HEARTBEAT.size, "heartbeat")
        return cls(payload[0])


_FAULT = struct.Struct("<HB")


@dataclass(frozen=True, slots=True)
class FaultReport:
    """A fault code and a short UTF-8 reason (type 0x05)."""

    TYPE: ClassVar[MessageType] = MessageType.FAULT_REPORT
    code: int
    text: str = ""

    def pack(self) -> bytes:
        clipped = self.text.encode("utf-8")[:MAX_FAULT_TEXT_BYTES]
        text = clipped.decode("utf-8", errors="ignore").encode("utf-8")  # never cut a character in half
        return _FAULT.pack(self.code, len(text)) + text

    @classmethod
    def unpack(cls, payload: bytes) -> FaultReport:
        if len(payload) < _FAULT.size:
            raise PayloadError(f"fault report needs at least {_FAULT.size} bytes, got {len(payload)}")
        code, length = _FAULT.unpack_from(payload)
        if length > MAX_FAULT_TEXT_BYTES or len(payload) != _FAULT.size + length:
            raise PayloadError(f"fault report announces {length} text bytes, payload has {len(payload) - 3}")
        return cls(code, payload[_FAULT.size :].decode("utf-8", errors="replace"))


Message = ImuSample | TorqueCommand | ControllerStatus | Heartbeat | FaultReport

MESSAGE_CLASSES: dict[int, type[ImuSample | TorqueCommand | ControllerStatus | Heartbeat | FaultReport]] = {
    cls.TYPE: cls for cls in (ImuSample, TorqueCommand, ControllerStatus, Heartbeat, FaultReport)
}


def _require_length(payload: bytes, size: int, what: str) -> None:
    if len(payload) != size:
        raise PayloadError(f"{what} payload needs {size} bytes, got {len(payload)}")
