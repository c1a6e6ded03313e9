"""Xsens MTi serial output (Xbus messages carrying MTData2) decoded into hipexo IMU frames.

One MTi speaks on one serial port. Each Xbus message is ``FA | BID | MID | LEN [| EXT_LEN u16] | DATA | CS``
(Xsens document MT0101P, "MT Low Level Communication Protocol", §"Message structure"): preamble 0xFA, bus id
0xFF from a stand-alone MTi, message id, a data length (0xFF announces a two-byte big-endian extended
length), the data and a checksum byte that makes the sum of every byte after the preamble 0 mod 256.
MTData2 (MID 0x36) data is a list of packets ``data id u16 | size u8 | value``, big-endian
(MT0101P §"MTData2"). This module reads RateOfTurn (rad/s) and Acceleration (m/s², gravity included), both
in the sensor frame S, PacketCounter and SampleTimeFine and the StatusWord's clipping flags, and skips every
other packet by its size.

:class:`MtData2Decoder` has the interface of :class:`~firmware_bridge.protocol.decoder.StreamDecoder`: bytes in,
:class:`~firmware_bridge.protocol.frame.Frame` objects carrying one :class:`ImuSample` out, never an exception,
every rejected message counted by cause. The runtime therefore puts an MTi's samples through exactly the
safety path of hipexo frames (docs/protocol.md, "Xsens MTi").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmware_bridge.protocol.decoder import LinkCounters, SequenceTracker
from firmware_bridge.protocol.frame import Frame, FrameError
from firmware_bridge.protocol.messages import ImuReading, ImuSample, ImuStatus

PREAMBLE = 0xFA
BID_MASTER = 0xFF
"""The bus id every message of a stand-alone MTi carries."""
MID_MTDATA2 = 0x36
EXTENDED_LENGTH = 0xFF
MAX_DATA_BYTES = 2048
"""Longest MTData2 data field accepted. An IMU-class MTi sending every output it has stays well below it; the
bound limits how long a corrupted length byte can hold the stream before the checksum rejects it."""

XDI_PACKET_COUNTER = 0x1020
XDI_SAMPLE_TIME_FINE = 0x1060
XDI_ACCELERATION = 0x4020
XDI_RATE_OF_TURN = 0x8020
XDI_STATUS_WORD = 0xE020
XDI_TYPE_MASK = 0xFFF0
"""A data id's type; its low nibble holds the coordinate system (bits 2-3) and the precision (bits 0-1)."""
PRECISION_MASK = 0x0003
FLOAT32, FP1220, FP1632, FLOAT64 = 0, 1, 2, 3
VECTOR_FORMATS = {FLOAT32: struct.Struct(">3f"), FLOAT64: struct.Struct(">3d")}
"""Precisions decoded. The fixed-point ones are refused: they cannot carry NaN, so a failed sensor would read
as a plausible number (the reason hipexo's own protocol is float32 too)."""

SAMPLE_TIME_FINE_US = 100
"""SampleTimeFine counts at 10 kHz."""
CLIP_ACCEL = 0x0000_0700
CLIP_GYRO = 0x0000_3800
"""StatusWord clipping flags (ClipAccX..Z, ClipGyrX..Z), reported as the reading's saturation bits."""

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_PACKET_HEADER = struct.Struct(">HB")


@dataclass
class XsensStats(LinkCounters):
    """An MTi's Xbus stream: checksum, length, sync, content and format failures."""

    checksum_errors: int = 0
    length_errors: int = 0
    """A message whose (extended) length is out of range."""
    sync_errors: int = 0
    """A run of bytes where a message should have started (a cut message, line noise)."""
    malformed: int = 0
    """An MTData2 whose packets do not add up to its length, or that lacks RateOfTurn or Acceleration."""
    unsupported_format: int = 0
    """RateOfTurn or Acceleration in a fixed-point precision."""
    other_messages: int = 0
    """Valid Xbus messages other than MTData2 (acknowledgements, errors): ignored."""

    @property
    def bad_frames(self) -> int:
        return self.checksum_errors + self.length_errors + self.sync_errors + self.malformed + self.unsupported_format

    @property
    def check_errors(self) -> int:
        """Messages whose checksum failed: the figure in the runtime's ``[link]`` line."""
        return self.checksum_errors


@dataclass(frozen=True, slots=True)
class MtData2:
    """The fields of one MTData2 message this project uses (None when the MTi was not set to send them)."""

    rate_of_turn: tuple[float, float, float]
    acceleration: tuple[float, float, float]
    packet_counter: int | None = None
    sample_time_fine: int | None = None
    status_word: int | None = None

    def reading(self, imu_id: int) -> ImuReading:
        status = ImuStatus.NONE
        if self.status_word is not None:
            if self.status_word & CLIP_GYRO:
                status |= ImuStatus.GYRO_SATURATED
            if self.status_word & CLIP_ACCEL:
                status |= ImuStatus.ACCEL_SATURATED
        return ImuReading(imu_id, self.rate_of_turn, self.acceleration, int(status))


def checksum(body: bytes) -> int:
    """The checksum byte for ``body`` (BID through the last data byte): the sum including it is 0 mod 256."""
    return -sum(body) & 0xFF


def encode_message(mid: int, data: bytes, bid: int = BID_MASTER) -> bytes:
    """One Xbus message; data longer than 254 bytes takes the extended length."""
    if len(data) > 0xFFFF:
        raise ValueError(f"Xbus data of {len(data)} bytes exceeds the 65535-byte extended length")
    length = bytes([len(data)]) if len(data) < EXTENDED_LENGTH else bytes([EXTENDED_LENGTH]) + _U16.pack(len(data))
    body = bytes([bid, mid]) + length + data
    return bytes([PREAMBLE]) + body + bytes([checksum(body)])


def encode_mtdata2(sample: MtData2, precision: int = FLOAT32) -> bytes:
    """The MTData2 message an MTi set to output ``sample``'s fields sends, packets in ascending data id order."""
    vector = VECTOR_FORMATS[precision]
    packets = []
    if sample.packet_counter is not None:
        packets.append((XDI_PACKET_COUNTER, _U16.pack(sample.packet_counter & 0xFFFF)))
    if sample.sample_time_fine is not None:
        packets.append((XDI_SAMPLE_TIME_FINE, _U32.pack(sample.sample_time_fine & 0xFFFFFFFF)))
    packets.append((XDI_ACCELERATION | precision, vector.pack(*sample.acceleration)))
    packets.append((XDI_RATE_OF_TURN | precision, vector.pack(*sample.rate_of_turn)))
    if sample.status_word is not None:
        packets.append((XDI_STATUS_WORD, _U32.pack(sample.status_word)))
    data = b"".join(_PACKET_HEADER.pack(data_id, len(value)) + value for data_id, value in packets)
    return encode_message(MID_MTDATA2, data)


def parse_mtdata2(data: bytes) -> MtData2:
    """The packets of an MTData2 data field; raise :class:`FrameError` naming what is wrong."""
    values: dict[int, tuple[int, bytes]] = {}
    offset = 0
    while offset < len(data):
        if offset + _PACKET_HEADER.size > len(data):
            raise FrameError("malformed", f"MTData2 packet header cut at byte {offset} of {len(data)}")
        data_id, size = _PACKET_HEADER.unpack_from(data, offset)
        offset += _PACKET_HEADER.size
        if offset + size > len(data):
            raise FrameError("malformed", f"MTData2 packet {data_id:#06x} of {size} bytes runs past the data")
        values[data_id & XDI_TYPE_MASK] = (data_id, bytes(data[offset : offset + size]))
        offset += size
    rate_of_turn = _vector(values, XDI_RATE_OF_TURN, "RateOfTurn")
    acceleration = _vector(values, XDI_ACCELERATION, "Acceleration")
    return MtData2(
        rate_of_turn,
        acceleration,
        _integer(values, XDI_PACKET_COUNTER, _U16),
        _integer(values, XDI_SAMPLE_TIME_FINE, _U32),
        _integer(values, XDI_STATUS_WORD, _U32),
    )


def _vector(values: dict[int, tuple[int, bytes]], xdi: int, name: str) -> tuple[float, float, float]:
    if xdi not in values:
        raise FrameError(
            "malformed", f"MTData2 without {name} ({xdi:#06x}): enable it in the MTi's output configuration"
        )
    data_id, value = values[xdi]
    vector = VECTOR_FORMATS.get(data_id & PRECISION_MASK)
    if vector is None:
        raise FrameError(
            "unsupported_format",
            f"{name} in fixed point ({data_id:#06x}): set it to Float32 or Float64 in the MTi's output configuration",
        )
    if len(value) != vector.size:
        raise FrameError("malformed", f"{name} packet of {len(value)} bytes, its precision needs {vector.size}")
    return vector.unpack(value)


def _integer(values: dict[int, tuple[int, bytes]], xdi: int, layout: struct.Struct) -> int | None:
    if xdi not in values:
        return None
    _, value = values[xdi]
    if len(value) != layout.size:
        raise FrameError("malformed", f"packet {xdi:#06x} of {len(value)} bytes, expected {layout.size}")
    return layout.unpack(value)[0]


class MtData2Decoder:
    """One MTi's byte stream in, hipexo frames out: each MTData2 becomes ``Frame(seq, device_time_us,
    ImuSample((reading,)))`` for the IMU ``imu_id`` this port serves.

    ``seq`` is the PacketCounter (the decoder's own count when the MTi does not send it), under the same
    sequence rules as hipexo frames; ``device_time_us`` is SampleTimeFine in µs, wrapped to 32 bits (0 when not
    sent). After a failed checksum the decoder looks for the next preamble from the byte after the failed one,
    so a message hidden behind a cut one or behind noise is still found.
    """

    CHECK = "checksum"
    """The integrity check's name, as the runtime's ``[link]`` line says it."""

    def __init__(self, imu_id: int) -> None:
        self.imu_id = imu_id
        self.stats = XsensStats()
        self.last_error: str | None = None
        self._buffer = bytearray()
        self._base = 0
        """Stream offset of the buffer's first byte."""
        self._bad_until = 0
        """Stream offset up to which bytes belong to a message already counted as bad."""
        self._junk_end = -1
        """Stream offset where the last run of skipped bytes ended (a run continued across reads counts once)."""
        self._sequence = SequenceTracker(self.stats)
        self._own_seq = 0

    def feed(self, chunk: bytes) -> list[Frame]:
        self.stats.bytes_in += len(chunk)
        self._buffer += chunk
        buffer = self._buffer
        frames: list[Frame] = []
        pos = 0
        while True:
            start = buffer.find(PREAMBLE, pos)
            skipped_to = len(buffer) if start < 0 else start
            if skipped_to > pos:
                self._skipped(pos, skipped_to)
            if start < 0:
                pos = len(buffer)
                break
            pos = start  # from here on, wait at this preamble unless the bytes after it settle the matter
            if len(buffer) - start < 4:
                break
            if buffer[start + 1] != BID_MASTER:  # a 0xFA inside other bytes
                self._skipped(start, start + 1)
                pos = start + 1
                continue
            mid, length, data_start = buffer[start + 2], buffer[start + 3], start + 4
            if length == EXTENDED_LENGTH:
                if len(buffer) - start < 6:
                    break
                (length,) = _U16.unpack_from(buffer, start + 4)
                data_start = start + 6
                if not EXTENDED_LENGTH <= length <= MAX_DATA_BYTES:
                    self._bad(start, data_start, "length_errors", f"Xbus extended length {length} out of range")
                    pos = start + 1
                    continue
            end = data_start + length + 1
            if end > len(buffer):
                break
            if sum(buffer[start + 1 : end]) & 0xFF:
                self._bad(start, end, "checksum_errors", f"Xbus checksum mismatch in message {mid:#04x}")
                pos = start + 1
                continue
            frame = self._message(mid, bytes(buffer[data_start : end - 1]), start, end)
            if frame is not None:
                frames.append(frame)
            pos = end
        del buffer[:pos]
        self._base += pos
        return frames

    def _message(self, mid: int, data: bytes, start: int, end: int) -> Frame | None:
        if mid != MID_MTDATA2:
            self.stats.other_messages += 1
            self._bad_until = 0
            return None
        try:
            sample = parse_mtdata2(data)
        except FrameError as exc:
            self._bad(start, end, "malformed" if exc.kind == "malformed" else "unsupported_format", str(exc))
            return None
        self._bad_until = 0  # a good message: whatever follows it is a new stretch of the stream
        if sample.packet_counter is None:
            seq, self._own_seq = self._own_seq, (self._own_seq + 1) & 0xFFFF
        else:
            seq = sample.packet_counter
        if not self._sequence.accept(MID_MTDATA2, seq):
            return None
        self.stats.frames += 1
        time_us = 0 if sample.sample_time_fine is None else sample.sample_time_fine * SAMPLE_TIME_FINE_US
        return Frame(seq, time_us & 0xFFFFFFFF, ImuSample((sample.reading(self.imu_id),)))

    def _bad(self, start: int, end: int, counter: str, reason: str) -> None:
        """Count a rejected message once, however many false starts inside it are tried and rejected after it."""
        if self._base + start >= self._bad_until:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
            self.last_error = reason
        self._bad_until = max(self._bad_until, self._base + end)

    def _skipped(self, start: int, end: int) -> None:
        """Bytes where a message should have started: one sync error per run of them, none inside a message
        already counted as bad."""
        first, last = self._base + start, self._base + end
        if last > self._bad_until and first != self._junk_end:
            self.stats.sync_errors += 1
            self.last_error = f"bytes outside any Xbus message at stream offset {first}"
        self._junk_end = last
