"""Consistent Overhead Byte Stuffing (Cheshire & Baker 1999).

COBS removes every 0x00 from a packet so that 0x00 can delimit frames on the wire. The overhead is one
byte per started 254 bytes. Both functions work on whole blocks with ``bytes`` slicing, which keeps
them fast in pure Python.
"""

from __future__ import annotations


class CobsError(ValueError):
    """The input is not a valid COBS encoding."""


def cobs_encode(data: bytes) -> bytes:
    """Encode ``data`` so that the result contains no 0x00 byte (delimiter not included)."""
    out = bytearray()
    chunks = bytes(data).split(b"\x00")
    last = len(chunks) - 1
    for index, chunk in enumerate(chunks):
        while len(chunk) >= 254:
            out.append(0xFF)
            out += chunk[:254]
            chunk = chunk[254:]
            if not chunk and index == last:
                return bytes(out)
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(encoded: bytes) -> bytes:
    """Invert :func:`cobs_encode`; raise :class:`CobsError` on a zero byte or a truncated block."""
    out = bytearray()
    index = 0
    size = len(encoded)
    while index < size:
        code = encoded[index]
        if code == 0:
            raise CobsError(f"zero byte inside COBS data at offset {index}")
        end = index + code
        if end > size:
            raise CobsError(f"COBS block at offset {index} runs past the end ({code - 1} bytes announced)")
        block = encoded[index + 1 : end]
        if 0 in block:
            raise CobsError(f"zero byte inside COBS block at offset {index}")
        out += block
        index = end
        if code != 0xFF and index < size:
            out.append(0)
    return bytes(out)
