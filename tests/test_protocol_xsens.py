"""The Xsens MTData2 decoder: the vendor's own byte strings, rejected messages by cause, and property tests.

Vendor vectors: Movella/Xsens, "MT low level communication protocol example" (mtidocs.movella.com, the example
section of document MT0101P, MT Low Level Communication Protocol Documentation), which lists a session with an
MTi-G-710: GoToConfig, SetOutputConfiguration, GoToMeasurement and the MTData2 message it then sends.
"""

from __future__ import annotations

import dataclasses
import math
import struct

from hypothesis import given
from hypothesis import strategies as st
from test_protocol_properties import chunked

from firmware_bridge.protocol.messages import ImuSample, ImuStatus
from firmware_bridge.protocol.xsens_mtdata2 import (
    FLOAT64,
    FP1220,
    MAX_DATA_BYTES,
    MID_MTDATA2,
    XDI_ACCELERATION,
    XDI_RATE_OF_TURN,
    MtData2,
    MtData2Decoder,
    encode_message,
    encode_mtdata2,
    parse_mtdata2,
)

# MT0101P example, "Start logging data": PacketCounter, SampleTimeFine, Acceleration, RateOfTurn, StatusWord.
VENDOR_MTDATA2 = bytes.fromhex(
    "FA FF 36 31 10 20 02 DF C5 10 60 04 00 45 9D A0 40 20 0C BE DC 9A FA 3F 54 9F 37 41 1C BB 70"
    " 80 20 0C BB AA 5C 80 3B 8C 55 01 BB 81 33 00 E0 20 04 00 00 00 81 45"
)
# The same example's commands and acknowledgements (no data but the output configuration).
VENDOR_GOTO_CONFIG = bytes.fromhex("FA FF 30 00 D1")
VENDOR_GOTO_CONFIG_ACK = bytes.fromhex("FA FF 31 00 D0")
VENDOR_GOTO_MEASUREMENT = bytes.fromhex("FA FF 10 00 F1")
VENDOR_SET_OUTPUT_CONFIGURATION = bytes.fromhex(
    "FA FF C0 28 10 20 FF FF 10 60 FF FF 20 10 00 64 40 20 01 90 80 20 01 90 C0 20 00 64 E0 20 FF FF"
    " 50 42 00 64 50 22 00 64 D0 12 00 64 73"
)


def f32(*values: float) -> tuple[float, ...]:
    return struct.unpack(f">{len(values)}f", struct.pack(f">{len(values)}f", *values))


def test_vendor_mtdata2_decodes_to_one_imu_sample():
    decoder = MtData2Decoder(imu_id=2)
    (frame,) = decoder.feed(VENDOR_MTDATA2)
    assert frame.seq == 0xDFC5  # PacketCounter
    assert frame.device_time_us == (0x00459DA0 * 100) & 0xFFFFFFFF  # SampleTimeFine, 10 kHz ticks
    assert isinstance(frame.message, ImuSample)
    (reading,) = frame.message.readings
    assert reading.imu_id == 2 and reading.status == 0  # StatusWord 0x81: no clipping flag
    assert reading.accel == struct.unpack(">3f", bytes.fromhex("BEDC9AFA 3F549F37 411CBB70"))
    assert 9.79 < reading.accel[2] < 9.80  # at rest, z up: +g along up, as hipexo's convention
    assert reading.gyro == struct.unpack(">3f", bytes.fromhex("BBAA5C80 3B8C5501 BB813300"))
    assert decoder.stats.bad_frames == 0 and decoder.stats.frames == 1


def test_vendor_mtdata2_is_reproduced_byte_for_byte():
    sample = parse_mtdata2(VENDOR_MTDATA2[4:-1])
    assert (sample.packet_counter, sample.sample_time_fine, sample.status_word) == (0xDFC5, 0x459DA0, 0x81)
    assert encode_mtdata2(sample) == VENDOR_MTDATA2


def test_vendor_messages_checksums_and_other_messages_are_ignored_not_bad():
    assert encode_message(0x30, b"") == VENDOR_GOTO_CONFIG
    assert encode_message(0x31, b"") == VENDOR_GOTO_CONFIG_ACK
    assert encode_message(0x10, b"") == VENDOR_GOTO_MEASUREMENT
    assert encode_message(0xC0, VENDOR_SET_OUTPUT_CONFIGURATION[4:-1]) == VENDOR_SET_OUTPUT_CONFIGURATION
    decoder = MtData2Decoder(0)
    stream = VENDOR_GOTO_CONFIG_ACK + VENDOR_SET_OUTPUT_CONFIGURATION + VENDOR_MTDATA2
    frames = decoder.feed(stream)
    assert len(frames) == 1 and decoder.stats.other_messages == 2 and decoder.stats.bad_frames == 0


def test_a_corrupted_byte_is_a_checksum_error_and_the_next_message_still_decodes():
    bad = bytearray(VENDOR_MTDATA2)
    bad[20] ^= 0x01
    after = encode_mtdata2(dataclasses.replace(parse_mtdata2(VENDOR_MTDATA2[4:-1]), packet_counter=0xDFC6))
    decoder = MtData2Decoder(0)
    frames = decoder.feed(bytes(bad) + after)
    assert [f.seq for f in frames] == [0xDFC6]
    assert decoder.stats.checksum_errors == 1 and decoder.stats.bad_frames == 1
    assert "checksum" in decoder.last_error


def test_a_cut_message_and_noise_before_good_ones_cost_one_bad_frame_each():
    decoder = MtData2Decoder(0)
    sample = parse_mtdata2(VENDOR_MTDATA2[4:-1])
    good = [encode_mtdata2(dataclasses.replace(sample, packet_counter=n)) for n in range(3)]
    frames = decoder.feed(VENDOR_MTDATA2[:25] + good[0] + b"\x13\x37\xfa\x00\x42" + good[1] + good[2])
    assert [f.seq for f in frames] == [0, 1, 2]
    assert decoder.stats.checksum_errors == 1 and decoder.stats.sync_errors == 1


def test_extended_length_round_trips():
    sample = MtData2((0.5, -0.25, 2.0), (0.0, 9.75, 1.5), 7, 1234)
    big = encode_mtdata2(sample)[4:-1] + struct.pack(">HB", 0x7FF0, 250) + bytes(250)  # an unknown packet, skipped
    message = encode_message(MID_MTDATA2, big)
    assert message[3] == 0xFF and struct.unpack(">H", message[4:6])[0] == len(big)
    (frame,) = MtData2Decoder(0).feed(message)
    assert frame.message.readings[0].gyro == (0.5, -0.25, 2.0) and frame.seq == 7


def test_an_extended_length_out_of_range_is_a_length_error_then_resyncs():
    decoder = MtData2Decoder(0)
    bogus = bytes([0xFA, 0xFF, 0x36, 0xFF]) + struct.pack(">H", MAX_DATA_BYTES + 1)
    frames = decoder.feed(bogus + VENDOR_MTDATA2)
    assert len(frames) == 1 and decoder.stats.length_errors == 1


def test_float64_decodes_and_fixed_point_is_refused_with_the_fix():
    sample = MtData2((0.1, 0.2, 0.3), (1.0, 2.0, 9.5), 1)
    (frame,) = MtData2Decoder(0).feed(encode_mtdata2(sample, FLOAT64))
    assert frame.message.readings[0].gyro == (0.1, 0.2, 0.3)  # exact: doubles on the wire
    fixed = encode_mtdata2(sample)[4:-1].replace(
        struct.pack(">H", XDI_RATE_OF_TURN), struct.pack(">H", XDI_RATE_OF_TURN | FP1220)
    )
    decoder = MtData2Decoder(0)
    assert decoder.feed(encode_message(MID_MTDATA2, fixed)) == []
    assert decoder.stats.unsupported_format == 1 and "Float32" in decoder.last_error


def test_mtdata2_without_acceleration_or_with_packets_that_do_not_add_up_is_malformed():
    full = encode_mtdata2(MtData2((0.0, 0.0, 0.0), (0.0, 0.0, 9.8), 1))[4:-1]
    acc_at = full.index(struct.pack(">H", XDI_ACCELERATION))
    without_acc = full[:acc_at] + full[acc_at + 15 :]
    cut = full[:-2]
    decoder = MtData2Decoder(0)
    assert decoder.feed(encode_message(MID_MTDATA2, without_acc) + encode_message(MID_MTDATA2, cut)) == []
    assert decoder.stats.malformed == 2


def test_nan_passes_through_for_the_runtime_to_fault_on_and_clipping_sets_saturation():
    sample = MtData2((math.nan, 0.0, 0.0), (0.0, 0.0, 9.8), 1, status_word=0x0000_0800 | 0x0000_0100)
    (frame,) = MtData2Decoder(0).feed(encode_mtdata2(sample))
    reading = frame.message.readings[0]
    assert math.isnan(reading.gyro[0])
    assert reading.status == ImuStatus.GYRO_SATURATED | ImuStatus.ACCEL_SATURATED


def test_packet_counter_follows_the_sequence_rules_and_is_optional():
    decoder = MtData2Decoder(0)
    base = MtData2((0.0, 0.0, 0.0), (0.0, 0.0, 9.8))
    stream = b"".join(encode_mtdata2(dataclasses.replace(base, packet_counter=n)) for n in (10, 10, 12, 11))
    assert [f.seq for f in decoder.feed(stream)] == [10, 12]
    stats = decoder.stats
    assert (stats.seq_duplicates, stats.seq_missed, stats.seq_out_of_order) == (1, 1, 1)
    own = MtData2Decoder(0)
    assert [f.seq for f in own.feed(encode_mtdata2(base) * 3)] == [0, 1, 2]  # no PacketCounter: counted here


# --- properties --------------------------------------------------------------------------------------------
finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
vec3 = st.tuples(finite32, finite32, finite32)
samples = st.builds(
    MtData2, vec3, vec3, st.none(), st.none() | st.integers(0, 0xFFFFFFFF), st.none() | st.integers(0, 0xFFFFFFFF)
)


@given(st.lists(samples, min_size=1, max_size=20), st.integers(0, 0xFFFF), st.randoms(use_true_random=False))
def test_encode_decode_round_trip_through_arbitrary_reads(batch, first, rng):
    batch = [dataclasses.replace(s, packet_counter=(first + k) & 0xFFFF) for k, s in enumerate(batch)]
    decoder = MtData2Decoder(5)
    frames = [f for chunk in chunked(b"".join(map(encode_mtdata2, batch)), rng) for f in decoder.feed(chunk)]
    assert [f.seq for f in frames] == [s.packet_counter for s in batch]
    for frame, sample in zip(frames, batch, strict=True):
        (reading,) = frame.message.readings
        assert (
            reading.imu_id == 5
            and reading.gyro == f32(*sample.rate_of_turn)
            and reading.accel == f32(*sample.acceleration)
        )
    assert decoder.stats.bad_frames == 0 and decoder.stats.frames == len(batch)


@given(st.binary(max_size=3000), st.randoms(use_true_random=False))
def test_arbitrary_bytes_never_raise_and_every_frame_out_is_well_formed(noise, rng):
    decoder = MtData2Decoder(1)
    for chunk in chunked(noise, rng):
        for frame in decoder.feed(chunk):
            (reading,) = frame.message.readings
            assert reading.imu_id == 1 and len(reading.gyro) == 3 and len(reading.accel) == 3
    assert decoder.stats.bytes_in == len(noise)


@given(st.binary(min_size=1, max_size=400).map(lambda b: b.replace(b"\xfa", b"")), st.randoms(use_true_random=False))
def test_after_noise_every_message_is_recovered(noise, rng):
    base = parse_mtdata2(VENDOR_MTDATA2[4:-1])
    messages = [encode_mtdata2(dataclasses.replace(base, packet_counter=n)) for n in range(5)]
    decoder = MtData2Decoder(0)
    frames = [f for chunk in chunked(noise + b"".join(messages), rng) for f in decoder.feed(chunk)]
    assert [f.seq for f in frames] == list(range(5))
    assert decoder.stats.sync_errors == (1 if noise else 0) and decoder.stats.bad_frames == decoder.stats.sync_errors
