"""Decoder throughput for a typical IMU frame, as a multiple of a serial link's line rate.

Usage: python benchmarks/protocol_decoder.py [--baud 921600] [--frames 20000] [--repeats 7] [--quick]

A typical frame carries three IMUs (pelvis, right thigh, left thigh) with realistic walking values.
The stream is fed in 64-byte chunks, like a serial read. Each repeat decodes the same stream, and the
script prints the median and the worst of the repeats in frames/s, with the ratio to the line rate
(8N1: 10 bits per byte). ``--quick``: 5,000 frames, 3 repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from figures import parse_args, print_headline  # benchmarks/figures.py, beside this script

from firmware_bridge.protocol import ImuReading, ImuSample, StreamDecoder, encode_frame


def typical_stream(frames: int, seed: int = 0) -> tuple[bytes, int]:
    rng = np.random.default_rng(seed)
    chunks = []
    for i in range(frames):
        readings = tuple(
            ImuReading(imu, tuple(rng.normal(0, 2.0, 3)), tuple(rng.normal(0, 3.0, 3) + (0, 0, 9.81)))
            for imu in range(3)
        )
        chunks.append(encode_frame(ImuSample(readings), i, i * 10_000))
    return b"".join(chunks), len(chunks[0])


def decode_rate(stream: bytes, frames: int, chunk: int = 64) -> float:
    decoder = StreamDecoder()
    start = time.perf_counter()
    decoded = 0
    for i in range(0, len(stream), chunk):
        decoded += len(decoder.feed(stream[i : i + chunk]))
    elapsed = time.perf_counter() - start
    assert decoded == frames and decoder.stats.dropped == 0
    return frames / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baud", type=int, default=921600)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parse_args(parser, frames=5000, repeats=3)
    stream, frame_bytes = typical_stream(args.frames)
    rates = [decode_rate(stream, args.frames) for _ in range(args.repeats)]
    line_rate = args.baud / 10 / (len(stream) / args.frames)
    median = statistics.median(rates)
    print(f"frame size on the wire: {len(stream) / args.frames:.1f} bytes (first frame {frame_bytes})")
    print(f"line rate at {args.baud} baud 8N1: {line_rate:.0f} frames/s")
    print(
        f"decoder: median {median:.0f} frames/s, slowest repeat {min(rates):.0f} frames/s over {args.repeats} repeats"
    )
    print(
        f"ratio to line rate: median {median / line_rate:.1f}x, slowest {min(rates) / line_rate:.1f}x (target >= 25x)"
    )
    print(f"per frame: median {1e6 / median:.2f} us")
    print_headline(
        {
            "frame_bytes": len(stream) / args.frames,
            "line_rate_frames_per_s": line_rate,
            "decode_frames_per_s_median": median,
            "decode_frames_per_s_slowest": min(rates),
            "decode_us_per_frame_median": 1e6 / median,
            "ratio_to_line_rate_median": median / line_rate,
            "ratio_to_line_rate_slowest": min(rates) / line_rate,
        },
        args.quick,
    )


if __name__ == "__main__":
    main()
