"""docs/protocol.md's golden vectors, checked in both directions against the implementation."""

from __future__ import annotations

import re

import pytest

from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.protocol import (
    CommandFlags,
    ControllerFault,
    ControllerFlags,
    ControllerStatus,
    FaultReport,
    Heartbeat,
    ImuReading,
    ImuSample,
    StreamDecoder,
    TorqueCommand,
    cobs_decode,
    cobs_encode,
    crc16_ccitt_false,
    decode_packet,
    encode_frame,
)

CASES = {
    "heartbeat": (Heartbeat(state=2), 1, 1000),
    "torque_command": (TorqueCommand(5.0, -2.5, CommandFlags.ENABLE, 2), 0x0102, 123456),
    "controller_status": (
        ControllerStatus(0x0102, 4.5, -2.25, ControllerFault.NONE, ControllerFlags.ENABLED),
        77,
        123999,
    ),
    "fault_report": (FaultReport(1, "IMU stale"), 3, 2000000),
    "imu_sample_one": (ImuSample((ImuReading(1, (0.5, -0.25, 0.0), (0.0, 9.75, 1.5), 0),)), 7, 10000),
    "imu_sample_three": (
        ImuSample(
            (
                ImuReading(0, (0.0, 0.0, 0.125), (0.0, 0.0, 9.75)),
                ImuReading(1, (1.5, -0.5, 0.0), (-1.0, 0.5, 9.5)),
                ImuReading(2, (-1.25, 0.25, 0.0), (1.0, -0.5, 10.0)),
            )
        ),
        513,
        20000,
    ),
}


def _vectors(kind: str) -> dict[str, bytes]:
    text = (REPO_ROOT / "docs" / "protocol.md").read_text()
    found = re.findall(rf"^{kind} (\w+): ((?:[0-9A-F]{{2}} ?)+)$", text, flags=re.MULTILINE)
    return {name: bytes.fromhex(hexes) for name, hexes in found}


def test_doc_has_a_vector_for_every_case():
    assert set(_vectors("wire")) == set(CASES)
    assert set(_vectors("packet")) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoder_produces_the_documented_bytes(name):
    message, seq, t = CASES[name]
    assert encode_frame(message, seq, t) == _vectors("wire")[name]
    assert cobs_decode(_vectors("wire")[name][1:-1]) == _vectors("packet")[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_decoder_reads_the_documented_bytes(name):
    message, seq, t = CASES[name]
    frames = StreamDecoder().feed(_vectors("wire")[name])
    assert len(frames) == 1
    assert (frames[0].message, frames[0].seq, frames[0].device_time_us) == (message, seq, t)
    packet = _vectors("packet")[name]
    assert crc16_ccitt_false(packet[:-2]) == int.from_bytes(packet[-2:], "little")
    assert decode_packet(cobs_encode(packet)).message == message


def test_crc_check_value():
    assert crc16_ccitt_false(b"123456789") == 0x29B1


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("00", "01 01"),
        ("00 00", "01 01 01"),
        ("11 22 00 33", "03 11 22 02 33"),
        ("11 22 33 44", "05 11 22 33 44"),
        ("", "01"),
    ],
)
def test_cobs_reference_vectors(raw, encoded):
    assert cobs_encode(bytes.fromhex(raw)) == bytes.fromhex(encoded)
    assert cobs_decode(bytes.fromhex(encoded)) == bytes.fromhex(raw)


def test_cobs_254_byte_run_at_the_end_needs_no_trailing_code():
    data = bytes(range(1, 255))
    assert cobs_encode(data) == b"\xff" + data
    assert cobs_encode(data + b"\x00") == b"\xff" + data + b"\x01\x01"
