"""The trial logger: a child process that owns the MCAP file, fed through a non-blocking pipe.

The loop packs each record into bytes with precompiled structs (``packing.py``: no pickling in the loop)
and writes it to the pipe in one ``os.write`` of at most ``PIPE_BUF`` bytes, which the kernel makes
atomic: either the whole record goes in, or (pipe full) nothing does and the record is dropped and
counted; the count rides along in later records. No feeder thread, no lock: nothing in the logging path
competes with the loop. The pipe holds ``log_queue_size`` typical records. The child does not wait on the
pipe (a waiting reader makes every write a wake-up, paid by the loop): it sleeps ``DRAIN_INTERVAL_S`` and
then takes everything written meanwhile. It flushes the file every ``FLUSH_INTERVAL_S`` so that a SIGKILL
of everything loses at most that much; if only the runtime dies, the child reads the pipe's end and
finishes the file properly.

The child ignores SIGINT and SIGTERM: Ctrl-C at a terminal and ``systemctl stop`` signal the whole
process group, and the log must outlive the runtime's fade-out to record it. The runtime tells it when
to finish (:meth:`TrialLogger.close`); if the runtime dies instead, the pipe closes and the child finishes
then, so it is never left behind. The signals are blocked from before the child is created until it
ignores them, so none can land in between.

What the file holds is defined once, in :class:`~firmware_bridge.trial.channels.TrialChannels` (channels,
schemas, record → messages); the live view (``live.py``, ``hipexo run --live``) serves exactly those, from a
process of its own that this one feeds.
"""

from __future__ import annotations

import fcntl
import multiprocessing as mp
import os
import select
import signal
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_bridge.trial.channels import MESSAGE_ENCODING, SCHEMA_ENCODING, TrialChannels
from firmware_bridge.trial.packing import pack_cycle, pack_frames, pack_other, split, unpack
from firmware_bridge.trial.records import CycleRecord, EventRecord

if TYPE_CHECKING:
    from firmware_bridge.trial.live import LiveAddress

FLUSH_INTERVAL_S = 0.25
DRAIN_INTERVAL_S = 0.02
TYPICAL_RECORD_BYTES = 400
MAX_PIPE_BYTES = 1 << 20
F_SETPIPE_SZ = 1031
IMU_FRAMES_PER_PIECE = 4
PROFILE = "hipexo-trial"
_STOP = "stop"
READY_TIMEOUT_S = 30.0
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
ATTACHMENT_TYPES = {".json": "application/json"}
"""Media type of an attachment by its name's suffix (the bundle manifest is ``manifest.json``)."""


class LoggerStartError(RuntimeError):
    """The trial log could not be started (the runtime refuses to run without one)."""


class TrialLogger:
    def __init__(
        self,
        path: Path,
        metadata: dict[str, dict[str, str]],
        attachments: dict[str, bytes],
        queue_size: int,
        wall_offset_ns: int,
        imus: Mapping[str, int],
        live: LiveAddress | None = None,
    ):
        """``imus``: the device's IMUs, name → id on the wire (``DeviceConfig.imu_ids()``): the log names them."""
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LoggerStartError(f"cannot create the trial folder {self.path.parent}: {exc.strerror or exc}") from exc
        context = mp.get_context("spawn")  # never fork a process that holds ONNX Runtime threads
        reader, self._writer = context.Pipe(duplex=False)
        ready_in, ready_out = context.Pipe(duplex=False)
        self._fd = self._writer.fileno()
        grow_pipe(self._fd, queue_size * TYPICAL_RECORD_BYTES)
        self._process = context.Process(
            target=_writer_main,
            args=(str(self.path), reader, ready_out, metadata, attachments, wall_offset_ns, dict(imus), live),
            name="hipexo-trial-logger",
            daemon=False,
        )
        self.drops = 0
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a signal that came meanwhile is handled now
        reader.close()
        ready_out.close()
        os.set_blocking(self._fd, False)
        problem = _wait_ready(ready_in, self._process)
        if problem:
            self._process.join(1.0)
            raise LoggerStartError(f"cannot write the trial log {self.path}: {problem}")

    def cycle(self, record: CycleRecord) -> None:
        frame = pack_cycle(record)
        if len(frame) <= select.PIPE_BUF:
            self._write(frame)
            return
        # After a stall many IMU frames pile up: send them in pieces that each fit one atomic write.
        for start in range(0, len(record.imu_frames), IMU_FRAMES_PER_PIECE):
            self._write(pack_frames(record.cycle, record.imu_frames[start : start + IMU_FRAMES_PER_PIECE]))
        self._write(pack_cycle(record._replace(imu_frames=[])))

    def event(self, t_ns: int, kind: str, text: str, **fields: Any) -> None:
        self._write(pack_other(EventRecord(t_ns, kind, text, fields)))

    def _write(self, frame: bytes) -> None:
        if len(frame) > select.PIPE_BUF:
            self.drops += 1
            return
        try:
            os.write(self._fd, frame)
        except BlockingIOError:
            self.drops += 1
        except OSError:  # the logger process is gone: keep running, count what is lost
            self.drops += 1

    def close(self, timeout_s: float = 5.0) -> bool:
        """Let the child drain the pipe and finish the file (summary and index); True when it did."""
        os.set_blocking(self._fd, True)
        try:
            os.write(self._fd, pack_other(_STOP))
        except OSError:
            pass
        self._writer.close()
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(1.0)
        return self._process.exitcode == 0


def _wait_ready(ready: Any, process: Any) -> str | None:
    """None once the child has opened the file and written its header; else what went wrong."""
    if ready.poll(READY_TIMEOUT_S):
        try:
            message = ready.recv()
        except EOFError:
            message = f"the logger process exited (code {process.exitcode})"
        return None if message == "ready" else str(message)
    return f"the logger process did not start within {READY_TIMEOUT_S:g} s"


def grow_pipe(fd: int, size: int) -> None:
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, min(size, MAX_PIPE_BYTES))
    except OSError:
        pass  # unprivileged limit (/proc/sys/fs/pipe-max-size): keep the default


def _writer_main(
    path: str,
    pipe: Any,
    ready: Any,
    metadata: dict[str, dict[str, str]],
    attachments: dict[str, bytes],
    wall_offset_ns: int,
    imus: dict[str, int],
    live: LiveAddress | None,
) -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    from mcap.writer import Writer

    try:
        stream = open(path, "wb")
    except OSError as exc:
        ready.send(exc.strerror or str(exc))
        return
    with stream:
        writer = Writer(stream, chunk_size=64 * 1024)
        writer.start(profile=PROFILE, library="hipexo")
        layout = TrialChannels(imus)
        channels = {
            topic: writer.register_channel(
                topic,
                MESSAGE_ENCODING,
                writer.register_schema(spec.title, SCHEMA_ENCODING, spec.schema_data),
                {"description": spec.description},
            )
            for topic, spec in layout.specs.items()
        }
        now = time.time_ns()
        for name, values in metadata.items():
            writer.add_metadata(name, values)
        for name, data in attachments.items():
            writer.add_attachment(
                now, now, name, ATTACHMENT_TYPES.get(Path(name).suffix, "application/octet-stream"), data
            )
        writer.flush()
        ready.send("ready")
        ready.close()
        sequence = 0

        def add(messages: list[tuple[str, int, bytes]]) -> None:
            nonlocal sequence
            for topic, t_ns, data in messages:
                sequence += 1
                wall = t_ns + wall_offset_ns
                writer.add_message(channels[topic], wall, data, wall, sequence)

        last_flush = time.monotonic()
        fd = pipe.fileno()
        os.set_blocking(fd, False)
        pending = bytearray()
        view = None
        if live is not None:  # the live view's process, fed from here; its code is imported only when asked for
            from firmware_bridge.trial.live import LiveView

            view = LiveView(live, wall_offset_ns, imus)
        try:
            for body in drain(fd, pending):
                if view is not None:
                    view.forward(body)
                item = unpack(body)
                if item == _STOP:
                    break
                add(layout.encoded_messages(item, wall_offset_ns))
                if time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
                    for event in view.news() if view is not None else ():
                        add(layout.encoded_messages(event, wall_offset_ns))
                    writer.flush()
                    last_flush = time.monotonic()
        finally:
            if view is not None:
                view.close()
        for event in view.news() if view is not None else ():
            add(layout.encoded_messages(event, wall_offset_ns))
        writer.finish()


def drain(fd: int, pending: bytearray) -> Iterator[bytes]:
    """Message bodies from the pipe, every ``DRAIN_INTERVAL_S``, until the runtime's end closes it."""
    while True:
        time.sleep(DRAIN_INTERVAL_S)
        while True:
            try:
                chunk = os.read(fd, MAX_PIPE_BYTES)
            except BlockingIOError:
                break
            except OSError:
                return  # the runtime is gone: keep what is complete
            if not chunk:
                yield from split(pending)
                return
            pending += chunk
        yield from split(pending)
