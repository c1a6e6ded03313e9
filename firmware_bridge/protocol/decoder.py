"""Streaming frame decoder: arbitrary byte chunks in, validated frames out, never an exception.

Bytes accumulate until a 0x00 delimiter; each delimited packet is decoded and checked. Anything that
fails is dropped and counted by cause in :class:`DecoderStats`. Sequence numbers are tracked per
message type: gaps are counted (the frame is kept), duplicates and stale out-of-order frames are dropped,
and a run of frames that all look stale is taken as the sender restarting its counter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from firmware_bridge.protocol.frame import MAX_ENCODED, Frame, FrameError, decode_packet

SEQ_MODULO = 1 << 16
SEQ_HALF = SEQ_MODULO // 2
RESTART_AFTER_STALE = 3
"""Consecutive stale-looking frames after which the sender is assumed to have restarted its counter."""


class FrameDecoder(Protocol):
    """A streaming decoder of one port's bytes (hipexo frames, or an Xsens MTi's messages): never raises."""

    CHECK: str
    stats: LinkCounters
    last_error: str | None

    def feed(self, chunk: bytes) -> list[Frame]: ...


@dataclass
class LinkCounters:
    """Counters every decoder keeps since it was created; subclasses add their integrity failures, summed by
    ``bad_frames``, and name the one the runtime's ``[link]`` line shows in ``check_errors``."""

    bytes_in: int = 0
    frames: int = 0
    seq_missed: int = 0
    seq_duplicates: int = 0
    seq_out_of_order: int = 0
    seq_restarts: int = 0

    @property
    def bad_frames(self) -> int:
        raise NotImplementedError

    @property
    def dropped(self) -> int:
        return self.bad_frames + self.seq_duplicates + self.seq_out_of_order


@dataclass
class DecoderStats(LinkCounters):
    """hipexo frames: CRC, COBS, length, type and version failures."""

    crc_errors: int = 0
    cobs_errors: int = 0
    length_errors: int = 0
    unknown_type: int = 0
    version_errors: int = 0

    @property
    def bad_frames(self) -> int:
        """Frames dropped because their bytes were wrong (not sequence effects)."""
        return self.crc_errors + self.cobs_errors + self.length_errors + self.unknown_type + self.version_errors

    @property
    def check_errors(self) -> int:
        """Frames whose integrity check (here the CRC) failed: the figure in the runtime's ``[link]`` line."""
        return self.crc_errors


_ERROR_COUNTER = {
    "crc": "crc_errors",
    "cobs": "cobs_errors",
    "length": "length_errors",
    "unknown_type": "unknown_type",
    "version": "version_errors",
}


class StreamDecoder:
    """Feed it bytes as they arrive; it returns the frames completed by those bytes."""

    CHECK = "CRC"
    """The integrity check's name, as the runtime's ``[link]`` line says it."""

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self.last_error: str | None = None
        self._buffer = bytearray()
        self._discarding = False
        self._sequence = SequenceTracker(self.stats)

    def feed(self, chunk: bytes) -> list[Frame]:
        self.stats.bytes_in += len(chunk)
        if 0 not in chunk:
            self._buffer += chunk
            if len(self._buffer) > MAX_ENCODED:
                self._overflow()
            return []
        self._buffer += chunk
        packets = self._buffer.split(b"\x00")
        self._buffer = bytearray(packets.pop())
        frames: list[Frame] = []
        for packet in packets:
            if self._discarding:
                self._discarding = False
                continue
            if packet:
                frame = self._accept(packet)
                if frame is not None:
                    frames.append(frame)
        if len(self._buffer) > MAX_ENCODED:
            self._overflow()
        return frames

    def _overflow(self) -> None:
        """Too many bytes without a delimiter: drop them, and the rest up to the next delimiter."""
        if not self._discarding:
            self.stats.length_errors += 1
            self.last_error = f"no delimiter within {MAX_ENCODED} bytes"
        self._discarding = True
        self._buffer.clear()

    def _accept(self, packet: bytes) -> Frame | None:
        try:
            frame = decode_packet(packet)
        except FrameError as exc:
            counter = _ERROR_COUNTER[exc.kind]
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
            self.last_error = str(exc)
            return None
        if not self._sequence.accept(frame.message.TYPE, frame.seq):
            return None
        self.stats.frames += 1
        return frame


class SequenceTracker:
    """The receiver's sequence rules (docs/protocol.md), per stream key; counts into ``stats``' ``seq_*`` fields.

    Shared by every decoder whose frames carry a 16-bit counter that wraps 65535 → 0 (the hipexo protocol's
    seq per message type, an Xsens MTi's PacketCounter).
    """

    def __init__(self, stats: LinkCounters) -> None:
        self.stats = stats
        self._last_seq: dict[int, int] = {}
        self._stale_run: dict[int, int] = {}

    def accept(self, key: int, seq: int) -> bool:
        """Whether the frame is kept: gaps are counted and kept, duplicates and stale frames dropped."""
        last = self._last_seq.get(key)
        if last is not None:
            delta = (seq - last) % SEQ_MODULO
            if delta == 0:
                self.stats.seq_duplicates += 1
                return False
            if delta >= SEQ_HALF:
                run = self._stale_run.get(key, 0) + 1
                self._stale_run[key] = run
                if run < RESTART_AFTER_STALE:
                    self.stats.seq_out_of_order += 1
                    return False
                self.stats.seq_restarts += 1
            elif delta > 1:
                self.stats.seq_missed += delta - 1
        self._stale_run[key] = 0
        self._last_seq[key] = seq
        return True
