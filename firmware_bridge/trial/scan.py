"""Read an MCAP file record by record, skipping what is damaged instead of stopping at it.

A trial log can end mid-record (the runtime and its logger were killed together) or hold a damaged
chunk (storage fault). The file is walked top-level record by record (opcode u8, length u64, body);
each record is parsed by the mcap library with CRC checks. A record that fails is skipped with a
problem noted: when its length is plausible the walk continues after it; when it is not, the walk
looks for the next byte position where a whole chunk parses with a valid CRC and goes on from there.
So every intact chunk after a bad one is kept.
"""

from __future__ import annotations

import io
import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcap.exceptions import EndOfFile
from mcap.records import Attachment, Channel, DataEnd, Footer, Header, Message, Metadata, Schema
from mcap.stream_reader import StreamReader

MAGIC = b"\x89MCAP0\r\n"
CHUNK = 0x06
LAST_OPCODE = 0x0F
KEPT = (Header, Schema, Channel, Message, Metadata, Attachment)


@dataclass
class Scan:
    records: list[Any] = field(default_factory=list)
    """Header, Schema, Channel, Message, Metadata and Attachment records, in file order (chunks expanded)."""
    problems: list[str] = field(default_factory=list)
    complete: bool = False
    """The footer was reached: the writer finished the file."""


def _parse(record: bytes) -> list[Any]:
    """The records one top-level record holds (a chunk's contents expanded); raises on any damage."""
    stream = io.BytesIO(record)
    out: list[Any] = []
    try:
        for item in StreamReader(stream, skip_magic=True, validate_crcs=True).records:
            out.append(item)
    except EndOfFile:  # the reader wants a next record or the closing magic: fine once all bytes are used
        if stream.tell() != len(record):
            raise
    return out


def _record_at(data: Any, pos: int) -> tuple[int, int] | None:
    """(opcode, end) of a plausibly framed record at ``pos``; None when the framing cannot be right."""
    if pos + 9 > len(data):
        return None
    opcode = data[pos]
    (length,) = struct.unpack_from("<Q", data, pos + 1)
    end = pos + 9 + length
    if not 0x01 <= opcode <= LAST_OPCODE or end > len(data):
        return None
    return opcode, end


def _next_chunk(data: Any, start: int) -> tuple[int, int, list[Any]] | None:
    """The next position from ``start`` where a whole chunk parses: (position, end, its records)."""
    pos = start
    while (pos := data.find(bytes([CHUNK]), pos)) != -1:
        framed = _record_at(data, pos)
        if framed is not None:
            try:
                return pos, framed[1], _parse(data[pos : framed[1]])
            except Exception:  # noqa: BLE001  (not a chunk here: keep looking)
                pass
        pos += 1
    return None


def scan_mcap(path: Path) -> Scan:
    scan = Scan()
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise ValueError("no MCAP magic at the start of the file")
        size = f.seek(0, io.SEEK_END)
        if size <= len(MAGIC):
            return scan
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            _walk(data, scan)
    return scan


def _walk(data: Any, scan: Scan) -> None:
    pos = len(MAGIC)
    in_summary = False  # after DataEnd: the summary section repeats schemas and channels as an index
    while pos < len(data):
        framed = _record_at(data, pos)
        if framed is not None:
            opcode, end = framed
            try:
                records = _parse(data[pos:end])
            except Exception as exc:  # noqa: BLE001  (the mcap library raises assorted errors on bad bytes)
                what = "chunk" if opcode == CHUNK else f"record (opcode 0x{opcode:02x})"
                scan.problems.append(f"bytes {pos}-{end}: damaged {what} skipped ({exc.__class__.__name__}: {exc})")
                pos = end
                continue
            if any(isinstance(r, Footer) for r in records):
                scan.complete = True
                return
            in_summary = in_summary or any(isinstance(r, DataEnd) for r in records)
            if not in_summary:
                scan.records += [r for r in records if isinstance(r, KEPT)]
            pos = end
            continue
        found = _next_chunk(data, pos + 1)
        if found is None:
            scan.problems.append(f"bytes {pos}-{len(data)}: cut short or damaged, no intact chunk after it")
            return
        start, end, records = found
        scan.problems.append(f"bytes {pos}-{start}: damaged, skipped to the next intact chunk")
        scan.records += [r for r in records if isinstance(r, KEPT)]
        pos = end
