"""A serial link (pyserial) that never blocks the loop and reopens itself after a port error."""

from __future__ import annotations

import time
from collections.abc import Callable

import serial

from firmware_bridge.protocol.decoder import FrameDecoder, StreamDecoder
from firmware_bridge.protocol.frame import Frame, encode_frame
from firmware_bridge.protocol.messages import CommandFlags, Heartbeat, Message, TorqueCommand

SEQ_MODULO = 1 << 16


class SerialLink:
    """One port: non-blocking reads into a :class:`StreamDecoder`, short-timeout writes, own tx sequence.

    After an error the link is closed; :meth:`maybe_reconnect` reopens it at most every
    ``reconnect_interval_s``. ``error`` holds the last failure for the safety checks and the log.
    ``decoder`` makes the decoder of what arrives (hipexo frames by default; an Xsens MTi's port has its own).
    """

    def __init__(
        self,
        port: str,
        baud: int,
        reconnect_interval_s: float,
        congested_writes_limit: int = 5,
        decoder: Callable[[], FrameDecoder] = StreamDecoder,
    ):
        self.port = port
        self.baud = baud
        self.reconnect_interval_s = reconnect_interval_s
        self.congested_writes_limit = congested_writes_limit
        self.congested_writes = 0
        self.short_writes = 0
        self.new_decoder = decoder
        self.decoder = decoder()
        self.error: str | None = None
        self.errors = 0
        self.reconnects = 0
        self._serial: serial.Serial | None = None
        self._last_attempt = -float("inf")
        self._tx_seq = 0
        self.open()

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> bool:
        self._last_attempt = time.monotonic()
        try:
            # write_timeout=0: non-blocking writes that report how much went out (never stall the loop)
            self._serial = serial.Serial(self.port, self.baud, timeout=0, write_timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            self._fail(f"cannot open {self.port}: {exc}")
            return False
        self.error = None
        self.decoder = self.new_decoder()  # a reopened port starts a fresh byte stream
        return True

    def maybe_reconnect(self) -> bool:
        """Reopen a failed port when the retry interval has passed; True when it is open now."""
        if self._serial is not None:
            return True
        if time.monotonic() - self._last_attempt < self.reconnect_interval_s:
            return False
        if self.open():
            self.reconnects += 1
            return True
        return False

    def read_frames(self) -> list[Frame]:
        if self._serial is None:
            return []
        try:
            waiting = self._serial.in_waiting
            chunk = self._serial.read(waiting) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            self._fail(f"read from {self.port} failed: {exc}")
            return []
        return self.decoder.feed(chunk) if chunk else []

    def send_all(self, messages: tuple[Message, ...], device_time_us: int) -> bool:
        """Frame the messages with consecutive seqs and write them in one system call."""
        if self._serial is None:
            return False
        frames = []
        for message in messages:
            frames.append(encode_frame(message, self._tx_seq, device_time_us & 0xFFFFFFFF))
            self._tx_seq = (self._tx_seq + 1) % SEQ_MODULO
        data = b"".join(frames)
        try:
            written = self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            self._fail(f"write to {self.port} failed: {exc}")
            return False
        if written is not None and written < len(data):
            # The peer is not draining the port. A cut frame is discarded by the peer's decoder (CRC), and
            # the next frame's leading delimiter resynchronises it; a run of these is a link failure.
            self.short_writes += 1
            self.congested_writes += 1
            if self.congested_writes >= self.congested_writes_limit:
                self._fail(f"{self.port} not accepting data ({self.congested_writes} short writes in a row)")
            return False
        self.congested_writes = 0
        return True

    def send_zero(self, state: int) -> bool:
        """Last resort after an internal error: a disabled zero-torque command and a heartbeat, written
        straight to the port (not through :meth:`send_all`, which may be what failed). Never raises."""
        try:
            if self._serial is None and not self.open():
                return False
            seq = self._tx_seq
            self._tx_seq = (seq + 2) % SEQ_MODULO
            now_us = (time.monotonic_ns() // 1000) & 0xFFFFFFFF
            data = encode_frame(TorqueCommand(0.0, 0.0, CommandFlags.NONE, state), seq, now_us) + encode_frame(
                Heartbeat(state), (seq + 1) % SEQ_MODULO, now_us
            )
            self._serial.write(data)  # non-blocking (write_timeout=0); no tcdrain, which could wait forever
            return True
        except Exception:  # noqa: BLE001  (whatever went wrong, the caller still exits; the emulator's watchdog zeroes)
            return False

    def fileno(self) -> int:
        if self._serial is None:
            raise ValueError(f"{self.port} is closed")
        return self._serial.fileno()

    @property
    def last_seq_sent(self) -> int:
        return (self._tx_seq - 1) % SEQ_MODULO

    def _fail(self, reason: str) -> None:
        self.error = reason
        self.errors += 1
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
        self._serial = None

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
