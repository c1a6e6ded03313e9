"""Read a trial log, including one cut short by a crash (everything up to the last complete record)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcap.records import Attachment, Channel, Footer, Message, Metadata
from mcap.stream_reader import StreamReader


class TrialLogError(ValueError):
    """A file that is not a readable trial log."""


@dataclass
class TrialLog:
    path: Path
    messages: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))
    """Per topic: (log time ns, decoded JSON message), in file order."""
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    attachments: dict[str, bytes] = field(default_factory=dict)
    complete: bool = False
    """False when the file ends without the MCAP footer (the runtime was killed); the data read is intact."""
    problem: str | None = None

    def topic(self, name: str) -> list[dict[str, Any]]:
        return [body for _, body in self.messages.get(name, [])]


def read_trial(path: Path) -> TrialLog:
    path = Path(path)
    if not path.is_file():
        raise TrialLogError(f"{path}: no such trial log")
    log = TrialLog(path)
    channels: dict[int, str] = {}
    with open(path, "rb") as stream:
        reader = StreamReader(stream)
        try:
            for record in reader.records:
                if isinstance(record, Channel):
                    channels[record.id] = record.topic
                elif isinstance(record, Message):
                    log.messages[channels[record.channel_id]].append((record.log_time, json.loads(record.data)))
                elif isinstance(record, Metadata):
                    log.metadata[record.name] = dict(record.metadata)
                elif isinstance(record, Attachment):
                    log.attachments[record.name] = bytes(record.data)
                elif isinstance(record, Footer):
                    log.complete = True
        except Exception as exc:  # the mcap reader raises assorted errors on a cut-off tail
            if not channels:
                raise TrialLogError(f"{path}: not a readable MCAP trial log ({exc.__class__.__name__}: {exc})") from exc
            log.problem = f"{exc.__class__.__name__}: {exc}"
    if not channels:
        raise TrialLogError(f"{path}: no channels: not a hipexo trial log")
    return log
