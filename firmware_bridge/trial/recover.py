"""``hipexo trial recover``: a clean, indexed copy of a trial log that was cut short or damaged.

Every intact record the scan finds (firmware_bridge/trial/scan.py) is written again with the mcap
writer, which adds what a cut-off file lacks: the summary section, the chunk and message indexes and
the footer, so indexed readers (Foxglove, the mcap libraries' seeking readers) open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcap.records import Attachment, Channel, Header, Message, Metadata, Schema
from mcap.writer import Writer

from firmware_bridge.trial.scan import scan_mcap


@dataclass
class Recovered:
    path: Path
    messages: int
    problems: list[str]
    """What the source had that could not be kept."""


def recover(source: Path, out: Path) -> Recovered:
    """Write every intact record of ``source`` into ``out`` (a new file; ``source`` is left as it is)."""
    scan = scan_mcap(source)
    header = next((r for r in scan.records if isinstance(r, Header)), None)
    schemas: dict[int, int] = {}
    channels: dict[int, int] = {}
    count = 0
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "wb") as stream:
        writer = Writer(stream)
        writer.start(profile=header.profile if header else "", library=header.library if header else "hipexo")
        for record in scan.records:
            if isinstance(record, Schema) and record.id not in schemas:
                schemas[record.id] = writer.register_schema(record.name, record.encoding, record.data)
            elif isinstance(record, Channel) and record.id not in channels:
                channels[record.id] = writer.register_channel(
                    record.topic, record.message_encoding, schemas.get(record.schema_id, 0), record.metadata
                )
            elif isinstance(record, Message) and record.channel_id in channels:
                writer.add_message(
                    channels[record.channel_id], record.log_time, record.data, record.publish_time, record.sequence
                )
                count += 1
            elif isinstance(record, Metadata):
                writer.add_metadata(record.name, record.metadata)
            elif isinstance(record, Attachment):
                writer.add_attachment(record.create_time, record.log_time, record.name, record.media_type, record.data)
        writer.finish()
    tmp.replace(out)
    return Recovered(out, count, scan.problems)
