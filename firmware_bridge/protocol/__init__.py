"""The hipexo wire protocol: COBS-framed, CRC-checked, typed messages (docs/protocol.md)."""

from firmware_bridge.protocol.cobs import CobsError, cobs_decode, cobs_encode
from firmware_bridge.protocol.decoder import DecoderStats, StreamDecoder
from firmware_bridge.protocol.frame import Frame, FrameError, crc16_ccitt_false, decode_packet, encode_frame
from firmware_bridge.protocol.messages import (
    PROTOCOL_VERSION,
    CommandFlags,
    ControllerFault,
    ControllerFlags,
    ControllerStatus,
    FaultReport,
    Heartbeat,
    ImuReading,
    ImuSample,
    ImuStatus,
    Message,
    MessageType,
    PayloadError,
    TorqueCommand,
)

__all__ = [
    "PROTOCOL_VERSION",
    "CobsError",
    "CommandFlags",
    "ControllerFault",
    "ControllerFlags",
    "ControllerStatus",
    "DecoderStats",
    "FaultReport",
    "Frame",
    "FrameError",
    "Heartbeat",
    "ImuReading",
    "ImuSample",
    "ImuStatus",
    "Message",
    "MessageType",
    "PayloadError",
    "StreamDecoder",
    "TorqueCommand",
    "cobs_decode",
    "cobs_encode",
    "crc16_ccitt_false",
    "decode_packet",
    "encode_frame",
]
