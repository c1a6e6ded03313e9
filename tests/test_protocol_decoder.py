"""Counting and sequence handling of the streaming decoder, one behaviour per test."""

from __future__ import annotations

from firmware_bridge.protocol import Heartbeat, StreamDecoder, TorqueCommand, cobs_decode, cobs_encode, encode_frame
from firmware_bridge.protocol.frame import CRC, HEADER, MAX_ENCODED, crc16_ccitt_false


def hb(seq: int) -> bytes:
    return encode_frame(Heartbeat(1), seq, 0)


def test_crc_error_is_counted_and_frame_dropped():
    packet = bytearray(cobs_decode(hb(0)[1:-1]))
    packet[4] ^= 0x10
    decoder = StreamDecoder()
    assert decoder.feed(b"\x00" + cobs_encode(bytes(packet)) + b"\x00") == []
    assert decoder.stats.crc_errors == 1
    assert "CRC" in decoder.last_error


def test_cobs_error_is_counted():
    decoder = StreamDecoder()
    assert decoder.feed(b"\x00\x09\x01\x02\x00") == []
    assert decoder.stats.cobs_errors == 1


def test_short_packet_is_a_length_error():
    decoder = StreamDecoder()
    decoder.feed(b"\x00\x03\x01\x01\x00")
    assert decoder.stats.length_errors == 1


def test_wrong_payload_length_is_a_length_error():
    body = HEADER.pack(TorqueCommand.TYPE, 1, 0, 0) + b"\x00" * 9
    packet = body + CRC.pack(crc16_ccitt_false(body))
    decoder = StreamDecoder()
    decoder.feed(b"\x00" + cobs_encode(packet) + b"\x00")
    assert decoder.stats.length_errors == 1 and decoder.stats.frames == 0


def test_unknown_type_and_bad_version_are_counted():
    def raw(msg_type: int, version: int) -> bytes:
        body = HEADER.pack(msg_type, version, 0, 0) + b"\x01"
        return b"\x00" + cobs_encode(body + CRC.pack(crc16_ccitt_false(body))) + b"\x00"

    decoder = StreamDecoder()
    decoder.feed(raw(0x7F, 1) + raw(0x04, 9))
    assert decoder.stats.unknown_type == 1
    assert decoder.stats.version_errors == 1


def test_sequence_gap_is_counted_and_frame_kept():
    decoder = StreamDecoder()
    frames = decoder.feed(hb(10) + hb(11) + hb(15))
    assert [f.seq for f in frames] == [10, 11, 15]
    assert decoder.stats.seq_missed == 3


def test_duplicate_is_dropped():
    decoder = StreamDecoder()
    frames = decoder.feed(hb(1) + hb(1) + hb(2))
    assert [f.seq for f in frames] == [1, 2]
    assert decoder.stats.seq_duplicates == 1


def test_out_of_order_frame_is_dropped():
    decoder = StreamDecoder()
    frames = decoder.feed(hb(5) + hb(7) + hb(6) + hb(8))
    assert [f.seq for f in frames] == [5, 7, 8]
    assert decoder.stats.seq_out_of_order == 1
    assert decoder.stats.seq_missed == 1


def test_wraparound_is_in_order():
    decoder = StreamDecoder()
    frames = decoder.feed(hb(65534) + hb(65535) + hb(0) + hb(1))
    assert len(frames) == 4 and decoder.stats.seq_missed == 0


def test_sender_restart_is_detected_after_three_stale_frames():
    decoder = StreamDecoder()
    decoder.feed(hb(10000) + hb(10001))
    frames = decoder.feed(hb(0) + hb(1) + hb(2) + hb(3))
    assert [f.seq for f in frames] == [2, 3]
    assert decoder.stats.seq_restarts == 1


def test_sequences_are_tracked_per_type():
    decoder = StreamDecoder()
    frames = decoder.feed(hb(0) + encode_frame(TorqueCommand(0, 0), 0, 0) + hb(1))
    assert len(frames) == 3 and decoder.stats.dropped == 0


def test_overlong_run_without_delimiter_is_discarded_then_recovers():
    decoder = StreamDecoder()
    junk = b"\x55" * (MAX_ENCODED + 10)
    assert decoder.feed(junk[:100]) == []
    assert decoder.feed(junk[100:]) == []
    assert decoder.stats.length_errors == 1
    assert [f.seq for f in decoder.feed(b"\x55" * 50 + hb(3))] == [3]
    assert decoder.stats.length_errors == 1
