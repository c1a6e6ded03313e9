"""The trial logger: a child process that owns the MCAP file, fed by a bounded queue.

The loop only ever calls ``put_nowait``; when the queue is full the record is dropped and counted (the
count rides along in later records and is logged). The child flushes the file every
``FLUSH_INTERVAL_S`` so that a SIGKILL of everything loses at most that much; if only the runtime dies,
the child notices (its parent changes) and finishes the file properly.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import time
from pathlib import Path
from typing import Any

from firmware_bridge.runtime.timing import STAGES
from firmware_bridge.trial.records import TOPICS, CycleRecord, EventRecord, cycle_messages

FLUSH_INTERVAL_S = 0.25
PROFILE = "hipexo-trial"
_STOP = "stop"


class TrialLogger:
    def __init__(
        self,
        path: Path,
        metadata: dict[str, dict[str, str]],
        attachments: dict[str, bytes],
        queue_size: int,
        wall_offset_ns: int,
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        context = mp.get_context("spawn")  # never fork a process that holds ONNX Runtime threads
        self._queue = context.Queue(maxsize=queue_size)
        self._process = context.Process(
            target=_writer_main,
            args=(str(self.path), self._queue, metadata, attachments, wall_offset_ns),
            name="hipexo-trial-logger",
            daemon=False,
        )
        self.drops = 0
        self._process.start()

    def cycle(self, record: CycleRecord) -> None:
        self._put(record)

    def event(self, t_ns: int, kind: str, text: str, **fields: Any) -> None:
        self._put(EventRecord(t_ns, kind, text, fields))

    def _put(self, item: Any) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.drops += 1

    def close(self, timeout_s: float = 10.0) -> None:
        """Let the child drain the queue and finish the file (summary and index)."""
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            pass
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(1.0)


def _writer_main(
    path: str, q: Any, metadata: dict[str, dict[str, str]], attachments: dict[str, bytes], wall_offset_ns: int
) -> None:
    from mcap.writer import Writer

    parent = os.getppid()
    with open(path, "wb") as stream:
        writer = Writer(stream, chunk_size=64 * 1024)
        writer.start(profile=PROFILE, library="hipexo")
        schema = writer.register_schema("hipexo.Json", "jsonschema", json.dumps({"type": "object"}).encode())
        channels = {
            topic: writer.register_channel(topic, "json", schema, {"description": text})
            for topic, text in TOPICS.items()
        }
        now = time.time_ns()
        for name, values in metadata.items():
            writer.add_metadata(name, values)
        for name, data in attachments.items():
            writer.add_attachment(now, now, name, "application/octet-stream", data)
        sequence = 0
        last_flush = time.monotonic()
        while True:
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                item = None
            except (EOFError, OSError):  # the runtime died mid-write: keep what is complete
                break
            if item == _STOP or (item is None and os.getppid() != parent):
                break
            if isinstance(item, CycleRecord):
                messages = cycle_messages(item, STAGES)
            elif isinstance(item, EventRecord):
                messages = [("/events", item.t_ns, {"kind": item.kind, "text": item.text, **item.fields})]
            else:
                messages = []
            for topic, t_ns, body in messages:
                sequence += 1
                wall = t_ns + wall_offset_ns
                writer.add_message(channels[topic], wall, json.dumps(body).encode(), wall, sequence)
            if time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
                writer.flush()
                last_flush = time.monotonic()
        writer.finish()
