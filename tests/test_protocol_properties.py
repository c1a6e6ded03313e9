"""Property-based and fuzz tests of the codec and the streaming decoder."""

from __future__ import annotations

import math
import random

import cobs.cobs as reference_cobs
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocol import (
    ControllerStatus,
    FaultReport,
    Heartbeat,
    ImuReading,
    ImuSample,
    StreamDecoder,
    TorqueCommand,
    cobs_decode,
    cobs_encode,
    encode_frame,
)

f32 = st.floats(width=32, allow_nan=False)
u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
vec3 = st.tuples(f32, f32, f32)
readings = st.builds(ImuReading, u8, vec3, vec3, u8)
messages = st.one_of(
    st.builds(ImuSample, st.lists(readings, min_size=1, max_size=8).map(tuple)),
    st.builds(TorqueCommand, f32, f32, u8, u8),
    st.builds(ControllerStatus, u16, f32, f32, u16, u8),
    st.builds(Heartbeat, u8),
    st.builds(FaultReport, u16, st.text(max_size=16)),
)


def chunked(data: bytes, rng: random.Random) -> list[bytes]:
    """Split ``data`` at random points, as a serial read would."""
    chunks, i = [], 0
    while i < len(data):
        n = rng.randint(1, 40)
        chunks.append(data[i : i + n])
        i += n
    return chunks


@given(st.binary(max_size=1200))
def test_cobs_round_trip_and_matches_reference(data):
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data
    assert encoded == reference_cobs.encode(data)


@given(st.lists(messages, min_size=1, max_size=20), st.integers(0, 0xFFFF), st.randoms(use_true_random=False))
def test_round_trip_through_arbitrary_chunks(msgs, first_seq, rng):
    counters: dict[int, int] = {}
    seqs = []
    for m in msgs:
        seqs.append((first_seq + counters.get(m.TYPE, 0)) & 0xFFFF)
        counters[m.TYPE] = counters.get(m.TYPE, 0) + 1
    wire = b"".join(encode_frame(m, seq, 1000 * i) for i, (m, seq) in enumerate(zip(msgs, seqs, strict=True)))
    decoder = StreamDecoder()
    frames = [f for chunk in chunked(wire, rng) for f in decoder.feed(chunk)]
    assert [f.message for f in frames] == msgs
    assert [f.seq for f in frames] == seqs
    assert [f.device_time_us for f in frames] == [1000 * i for i in range(len(msgs))]
    assert decoder.stats.dropped == 0 and decoder.stats.seq_missed == 0


@settings(max_examples=300)
@given(st.binary(max_size=2000), st.randoms(use_true_random=False))
def test_garbage_never_raises(garbage, rng):
    decoder = StreamDecoder()
    for chunk in chunked(garbage, rng):
        decoder.feed(chunk)
    assert decoder.stats.bytes_in == len(garbage)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.binary(max_size=600), st.lists(messages, min_size=1, max_size=4)), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
)
def test_every_valid_frame_after_garbage_is_recovered(bursts, rng):
    wire, expected, seq = b"", [], 0
    for garbage, msgs in bursts:
        wire += garbage
        for m in msgs:
            wire += encode_frame(m, seq, seq)
            expected.append(m)
            seq += 1
    decoder = StreamDecoder()
    frames = [f for chunk in chunked(wire, rng) for f in decoder.feed(chunk)]
    assert [f.message for f in frames] == expected


@given(st.lists(messages, min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_a_flipped_bit_never_yields_a_wrong_frame(msgs, rng):
    wire = bytearray(b"".join(encode_frame(m, i, i) for i, m in enumerate(msgs)))
    position = rng.randrange(len(wire))
    wire[position] ^= 1 << rng.randrange(8)
    frames = StreamDecoder().feed(bytes(wire))
    assert all(f.message == msgs[f.seq] for f in frames)
    assert len(frames) >= len(msgs) - 2


def test_nan_survives_the_wire_so_the_runtime_can_see_it():
    wire = encode_frame(ImuSample((ImuReading(1, (math.nan, 0.0, 0.0), (0.0, 0.0, 9.8)),)), 0, 0)
    (frame,) = StreamDecoder().feed(wire)
    assert math.isnan(frame.message.readings[0].gyro[0])


@given(st.text(min_size=17, max_size=200))
def test_long_fault_text_is_cut_at_a_character_boundary(text):
    (frame,) = StreamDecoder().feed(encode_frame(FaultReport(9, text), 0, 0))
    assert text.startswith(frame.message.text)
    assert len(frame.message.text.encode("utf-8")) <= 64
