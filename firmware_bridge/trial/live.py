"""The live view (``hipexo run --live``): the trial's channels served to Foxglove over its WebSocket protocol.

The loop is not involved: the trial logger process (``writer.py``) passes each record it reads on to a
process of its own, the *view*, through a second non-blocking pipe, one atomic write per record. A view
that falls behind costs skipped records in the view, never in the log; a view that cannot start (port in
use, ``foxglove-sdk`` missing) or dies leaves the logger writing the trial as before, with the reason in
the log's ``/events`` and on the console. The view advertises the channels of
:class:`~firmware_bridge.trial.channels.TrialChannels` and sends its messages, the very channels, schemas and
bodies the MCAP file gets, stamped with the same wall-clock times. The server is ``foxglove-sdk``'s (the optional
``live`` extra), imported only in the view's process; it buffers a bounded backlog per client and drops
the oldest for a slow one. The view runs at a lower priority (nice) than the logger.

Like the logger, the view ignores SIGINT and SIGTERM (a stop signals the whole process group, and the
fade-out is worth seeing); it ends when the logger closes its pipe, or is killed if it does not.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from firmware_bridge.trial.channels import MESSAGE_ENCODING, SCHEMA_ENCODING, TrialChannels
from firmware_bridge.trial.packing import LENGTH, unpack
from firmware_bridge.trial.records import EventRecord
from firmware_bridge.trial.writer import STOP_SIGNALS, drain, grow_pipe

DEFAULT_PORT = 8765
"""Foxglove's default WebSocket port."""
DEFAULT_HOST = "0.0.0.0"
"""Every interface: the view is watched from a laptop on the device computer's network."""
PIPE_BYTES = 1 << 20
VIEW_NICE = 10
CLOSE_TIMEOUT_S = 1.0
SERVER_NAME = "hipexo"


@dataclass(frozen=True)
class LiveAddress:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    """0: any free port (the view reports the one it got)."""

    @classmethod
    def parse(cls, text: str) -> LiveAddress:
        """``PORT`` or ``HOST:PORT``; ValueError naming what is wrong."""
        host, _, port = text.rpartition(":")
        try:
            number = int(port)
        except ValueError:
            raise ValueError(f"{text!r} is not PORT or HOST:PORT") from None
        if not 0 <= number <= 65535:
            raise ValueError(f"port {number} is not in 0..65535")
        return cls(host or DEFAULT_HOST, number)


class LiveView:
    """The logger's end of the view: start it, forward records, collect what it reports, close it.

    Never raises and never blocks for long: whatever goes wrong becomes a warning from :meth:`news`. The
    view's own warnings are its last words (it ends after each); an end without one is reported here.
    """

    def __init__(self, address: LiveAddress, wall_offset_ns: int, imus: dict[str, int]):
        self.skipped = 0
        self._news: list[EventRecord] = []
        self._fd: int | None = None
        self._process: Any = None
        self._status: Any = None
        self._ended = False
        """The view's end is accounted for: it said why, or the logger closed it."""
        try:
            context = mp.get_context("spawn")
            reader, self._writer = context.Pipe(duplex=False)
            self._status, status_out = context.Pipe(duplex=False)
            self._process = context.Process(
                target=_view_main,
                args=(address, reader, status_out, wall_offset_ns, imus),
                name="hipexo-live-view",
                daemon=False,
            )
            self._process.start()
            reader.close()
            status_out.close()
            self._fd = self._writer.fileno()
            grow_pipe(self._fd, PIPE_BYTES)
            os.set_blocking(self._fd, False)
        except Exception as exc:  # noqa: BLE001  (the log goes on without the view, whatever failed)
            self._ended = True
            self._status = None
            self._note("warning", f"live view not started: {type(exc).__name__}: {exc}")

    def forward(self, body: bytes) -> None:
        """Pass one record on (as read from the loop's pipe); skipped when the view's pipe is full."""
        if self._fd is None:
            return
        try:
            os.write(self._fd, LENGTH.pack(len(body)) + body)
        except BlockingIOError:
            self.skipped += 1
        except OSError:  # the view is gone: what it said, or that it said nothing, comes through news()
            self._fd = None
            self._writer.close()

    def news(self) -> list[EventRecord]:
        """What the view reported since the last call (serving, failed, stopped), also said on the console."""
        self._poll()
        news, self._news = self._news, []
        for event in news:
            print(f"[{event.kind}] {event.text}", flush=True)
        return news

    def _poll(self) -> None:
        while self._status is not None:
            try:
                if not self._status.poll():
                    return
                kind, text = self._status.recv()
            except (EOFError, OSError):
                self._status = None
                if not self._ended:
                    code = self._process.exitcode
                    self._note(
                        "warning",
                        "live view stopped: its process ended" + (f" (exit code {code})" * (code is not None)),
                    )
                return
            self._ended |= kind == "warning"
            self._note(kind, text)

    def close(self) -> None:
        """End the view (its pipe closes; killed after ``CLOSE_TIMEOUT_S``) and note what it skipped."""
        self._poll()  # its last words before the close, if any, are its own
        self._ended = True
        if self._fd is not None:
            self._fd = None
            self._writer.close()
        if self._process is not None and self._process.pid is not None:
            self._process.join(CLOSE_TIMEOUT_S)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(CLOSE_TIMEOUT_S)
                self._note("warning", f"live view did not end within {CLOSE_TIMEOUT_S:g} s of the trial's end: killed")
        if self.skipped:
            self._note("warning", f"live view skipped {self.skipped} records it could not keep up with")

    def _note(self, kind: str, text: str) -> None:
        self._news.append(EventRecord(time.monotonic_ns(), kind, text, {}))


def _view_main(address: LiveAddress, pipe: Any, status: Any, wall_offset_ns: int, imus: dict[str, int]) -> None:
    """The view's process: a Foxglove WebSocket server with the trial's channels, fed until its pipe ends."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    os.nice(VIEW_NICE)
    try:
        import foxglove
    except ImportError:
        status.send(("warning", "live view not started: foxglove-sdk is not installed (pip install 'hipexo[live]')"))
        return
    try:
        context = foxglove.Context()
        server = foxglove.start_server(name=SERVER_NAME, host=address.host, port=address.port, context=context)
    except Exception as exc:  # noqa: BLE001  (the SDK reports a taken port, a bad host, ... as RuntimeError)
        status.send(("warning", f"live view not started on {address.host}:{address.port}: {exc}"))
        return
    try:
        layout = TrialChannels(imus)
        channels = {
            topic: foxglove.Channel(
                topic,
                schema=foxglove.Schema(name=spec.title, encoding=SCHEMA_ENCODING, data=spec.schema_data),
                message_encoding=MESSAGE_ENCODING,
                context=context,
                metadata={"description": spec.description},
            )
            for topic, spec in layout.specs.items()
        }
        status.send(
            ("info", f"live view: ws://{address.host}:{server.port} (Foxglove: Open connection → Foxglove WebSocket)")
        )
        fd = pipe.fileno()
        os.set_blocking(fd, False)
        pending = bytearray()
        for body in drain(fd, pending):
            for topic, t_ns, data in layout.encoded_messages(unpack(body), wall_offset_ns):
                channels[topic].log(data, log_time=t_ns + wall_offset_ns)
    except Exception as exc:  # noqa: BLE001  (reported to the logger, which goes on)
        status.send(("warning", f"live view stopped: {type(exc).__name__}: {exc}"))
    finally:
        server.stop()
