"""One frame on the wire: ``00 | COBS(header | payload | crc16) | 00``.

Header (8 bytes, little-endian): type u8, version u8, seq u16, device_time_us u32. The CRC is
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor) over header and payload,
sent little-endian. The leading delimiter ends any garbage before the frame, so a receiver recovers
every frame that follows a burst of noise.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

from firmware_bridge.protocol.cobs import CobsError, cobs_decode, cobs_encode
from firmware_bridge.protocol.messages import MESSAGE_CLASSES, PROTOCOL_VERSION, Message, MessageType, PayloadError

HEADER = struct.Struct("<BBHI")
CRC = struct.Struct("<H")
MIN_PACKET = HEADER.size + CRC.size
MAX_PACKET = 256
"""Largest decoded packet (header + payload + CRC) a receiver accepts."""
MAX_ENCODED = MAX_PACKET + MAX_PACKET // 254 + 1
DELIMITER = b"\x00"


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE; check value 0x29B1 for b'123456789'."""
    return binascii.crc_hqx(data, 0xFFFF)


class FrameError(ValueError):
    """A packet that cannot be accepted; ``kind`` names the counter it belongs to."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame: header fields plus the typed message."""

    seq: int
    device_time_us: int
    message: Message

    @property
    def type(self) -> MessageType:
        return self.message.TYPE


def encode_frame(message: Message, seq: int, device_time_us: int) -> bytes:
    """The bytes to write for ``message``, delimiters included."""
    body = HEADER.pack(message.TYPE, PROTOCOL_VERSION, seq & 0xFFFF, device_time_us & 0xFFFFFFFF) + message.pack()
    packet = body + CRC.pack(crc16_ccitt_false(body))
    if len(packet) > MAX_PACKET:
        raise PayloadError(f"packet of {len(packet)} bytes exceeds the {MAX_PACKET}-byte limit")
    return DELIMITER + cobs_encode(packet) + DELIMITER


def decode_packet(encoded: bytes) -> Frame:
    """Decode the bytes between two delimiters; raise :class:`FrameError` naming what is wrong."""
    if len(encoded) > MAX_ENCODED:
        raise FrameError("length", f"encoded frame of {len(encoded)} bytes exceeds {MAX_ENCODED}")
    try:
        packet = cobs_decode(encoded)
    except CobsError as exc:
        raise FrameError("cobs", str(exc)) from None
    if len(packet) < MIN_PACKET:
        raise FrameError("length", f"packet of {len(packet)} bytes is shorter than the {MIN_PACKET}-byte minimum")
    body = packet[:-2]
    (crc,) = CRC.unpack_from(packet, len(packet) - 2)
    if crc != crc16_ccitt_false(body):
        raise FrameError("crc", f"CRC mismatch: frame says {crc:#06x}, computed {crc16_ccitt_false(body):#06x}")
    msg_type, version, seq, device_time_us = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise FrameError("version", f"protocol version {version}, this receiver speaks {PROTOCOL_VERSION}")
    cls = MESSAGE_CLASSES.get(msg_type)
    if cls is None:
        raise FrameError("unknown_type", f"unknown message type {msg_type:#04x}")
    try:
        message = cls.unpack(body[HEADER.size :])
    except PayloadError as exc:
        raise FrameError("length", str(exc)) from None
    return Frame(seq, device_time_us, message)
