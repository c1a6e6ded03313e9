"""Make clean simulated IMU streams look like real ones: mounting rotation, bias, noise, latency, drops.

A :class:`SensorModel` is drawn once per episode and then applied to any prefix of the stream, so the
student driving the exo in a DAgger round sees exactly the samples that end up in the dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from distill.config import RandomisationConfig
from firmware_bridge.mounting import rotation_xyz


@dataclass(frozen=True)
class SensorModel:
    rotations: np.ndarray
    """(n_imus, 3, 3): sensor frame = segment frame rotated by these (up to ±mounting_deg per axis)."""
    bias: np.ndarray
    """(n_imus, 6) constant per episode."""
    noise: np.ndarray
    """(max_periods, n_imus, 6) white noise."""
    drops: np.ndarray
    """(max_periods,) True where the sample repeats the previous one."""
    delay: int
    """Latency in device periods."""

    @classmethod
    def draw(cls, config: RandomisationConfig, n_imus: int, max_periods: int, rng: np.random.Generator) -> SensorModel:
        limit = math.radians(config.mounting_deg)
        rotations = np.array([rotation_xyz(rng.uniform(-limit, limit, 3)) for _ in range(n_imus)])
        bias = np.concatenate(
            [rng.normal(0, config.gyro_bias_rad_s, (n_imus, 3)), rng.normal(0, config.accel_bias_m_s2, (n_imus, 3))],
            axis=1,
        )
        noise = np.concatenate(
            [
                rng.normal(0, config.gyro_noise_rad_s, (max_periods, n_imus, 3)),
                rng.normal(0, config.accel_noise_m_s2, (max_periods, n_imus, 3)),
            ],
            axis=2,
        )
        drops = rng.random(max_periods) < config.drop_probability
        lo, hi = config.latency_periods
        delay = int(rng.integers(lo, hi + 1)) if hi > lo else int(lo)
        return cls(rotations, bias, noise, drops, delay)

    def apply(self, clean: np.ndarray) -> np.ndarray:
        """(T, n_imus, 6) segment-frame readings → what the device reads (T ≤ max_periods)."""
        periods = len(clean)
        out = np.empty_like(clean)
        out[:, :, :3] = np.einsum("tkj,kji->tki", clean[:, :, :3], self.rotations)
        out[:, :, 3:] = np.einsum("tkj,kji->tki", clean[:, :, 3:], self.rotations)
        out += self.bias + self.noise[:periods]
        for t in np.flatnonzero(self.drops[:periods]):
            if t > 0:
                out[t] = out[t - 1]
        if self.delay > 0:
            out = np.concatenate([np.repeat(out[:1], self.delay, axis=0), out[: -self.delay]])[:periods]
        return out
