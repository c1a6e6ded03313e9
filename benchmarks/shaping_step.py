"""Cost of one torque-shaping step (both sides), in microseconds: median and p99.

Usage: python benchmarks/shaping_step.py [--steps 200000] [--quick]

Each step is timed on its own with perf_counter_ns over a realistic command stream (a gait-like sine
with noise), for the shipped first-order configuration and for the second-order Butterworth option.
``--quick``: 20,000 steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time

import numpy as np
from figures import parse_args, print_headline  # benchmarks/figures.py, beside this script

from firmware_bridge.config import DeviceConfig, LowPassConfig, SubjectConfig, load_config
from firmware_bridge.config.paths import default_config
from firmware_bridge.shaping import ShaperState, ShapingParams, shape_step


def time_steps(params: ShapingParams, steps: int) -> np.ndarray:
    state = ShaperState.initial(params)
    rng = np.random.default_rng(0)
    t = np.arange(steps) / params.rate_hz
    commands = (0.8 * np.sin(2 * math.pi * t) + 0.05 * rng.normal(size=steps)).tolist()
    costs = np.empty(steps)
    clock = time.perf_counter_ns
    for i, command in enumerate(commands):
        start = clock()
        shape_step(params, state, command, -command)
        costs[i] = clock() - start
    return costs / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    args = parse_args(parser, steps=20_000)
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    subject = load_config(default_config("subject"), SubjectConfig)
    headline = {}
    for order in (1, 2):
        config = dataclasses.replace(device, lowpass=LowPassConfig(device.lowpass.cutoff_hz, order))
        costs = time_steps(ShapingParams.from_config(config, subject, 100.0), args.steps)
        p50, p99, p999 = np.percentile(costs, [50, 99, 99.9])
        print(f"order {order}: median {p50:.2f} us, p99 {p99:.2f} us, p99.9 {p999:.2f} us over {args.steps} steps")
        headline |= {
            f"order{order}_step_us_p50": p50,
            f"order{order}_step_us_p99": p99,
            f"order{order}_step_us_p999": p999,
        }
    print_headline(headline, args.quick)


if __name__ == "__main__":
    main()
