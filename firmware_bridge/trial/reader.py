"""Read a trial log, including one cut short by a crash or with damaged chunks (every intact chunk is
read; what was skipped is listed in :attr:`TrialLog.problems`)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcap.records import Attachment, Channel, Message, Metadata, Schema

from firmware_bridge.trial import format1
from firmware_bridge.trial.scan import scan_mcap


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
    problems: list[str] = field(default_factory=list)
    """Damaged or cut-off parts that were skipped (``hipexo trial recover`` writes a clean copy)."""
    format: int = 2
    """The file's log format: 1 (one untyped schema; its messages are upgraded on reading) or 2 (channels.py)."""

    def topic(self, name: str) -> list[dict[str, Any]]:
        return [body for _, body in self.messages.get(name, [])]


def read_trial(path: Path) -> TrialLog:
    path = Path(path)
    if not path.is_file():
        raise TrialLogError(f"{path}: no such trial log")
    log = TrialLog(path)
    try:
        scan = scan_mcap(path)
    except (OSError, ValueError) as exc:
        raise TrialLogError(f"{path}: not a readable MCAP trial log ({exc})") from exc
    schemas: dict[int, str] = {}
    channels: dict[int, str] = {}
    for record in scan.records:
        if isinstance(record, Schema):
            schemas[record.id] = record.name
        elif isinstance(record, Channel):
            channels[record.id] = record.topic
            if schemas.get(record.schema_id) == format1.SCHEMA_NAME:
                log.format = 1
        elif isinstance(record, Message) and record.channel_id in channels:
            log.messages[channels[record.channel_id]].append((record.log_time, json.loads(record.data)))
        elif isinstance(record, Metadata):
            log.metadata[record.name] = dict(record.metadata)
        elif isinstance(record, Attachment):
            log.attachments[record.name] = bytes(record.data)
    log.complete = scan.complete and not scan.problems
    log.problems = scan.problems
    if not channels:
        raise TrialLogError(f"{path}: no channels: not a hipexo trial log")
    if log.format == 1:
        format1.upgrade(log.messages, log.metadata)
    return log
