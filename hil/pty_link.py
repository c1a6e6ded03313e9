"""The bench side of a serial link: a pseudo-terminal pair whose device path the runtime opens like a port.

:class:`FramePeer` owns the master end: it writes frames with its own sequence counter and decodes
whatever the runtime sends back. The same class speaks for the IMU simulator and the motor-controller
emulator; on a real bench the runtime opens a USB-serial adapter instead of the pty path.
"""

from __future__ import annotations

import os
import threading
import time
import tty

from firmware_bridge.protocol.decoder import StreamDecoder
from firmware_bridge.protocol.frame import Frame, encode_frame
from firmware_bridge.protocol.messages import Message

SEQ_MODULO = 1 << 16


class PtyPair:
    """``os.openpty`` in raw mode; :attr:`device_path` is what the runtime opens."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.device_path = os.ttyname(self.slave)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class FramePeer:
    """Write frames into the master end and collect decoded frames coming out of it (thread-safe)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.decoder = StreamDecoder()
        self.received: list[tuple[float, Frame]] = []
        self._lock = threading.Lock()
        self._seq = 0

    def send(self, message: Message, device_time_us: int | None = None, seq: int | None = None) -> bytes:
        if device_time_us is None:
            device_time_us = time.monotonic_ns() // 1000
        if seq is None:
            seq = self._seq
            self._seq = (self._seq + 1) % SEQ_MODULO
        data = encode_frame(message, seq, device_time_us & 0xFFFFFFFF)
        self.write_raw(data)
        return data

    def write_raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                time.sleep(0.0005)
                continue
            view = view[written:]

    def poll(self) -> list[Frame]:
        """Read what is available now; returns the new frames (also appended to :attr:`received`)."""
        chunks = []
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        if not chunks:
            return []
        now = time.monotonic()
        frames = self.decoder.feed(b"".join(chunks))
        with self._lock:
            self.received.extend((now, f) for f in frames)
        return frames

    def frames(self) -> list[tuple[float, Frame]]:
        with self._lock:
            return list(self.received)
