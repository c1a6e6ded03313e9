"""The baseline controller: gait phase from each thigh's gyroscope, and a hip-torque profile over the cycle.

Researchers use it as the comparison condition, and the bench runs it before a student exists. Per side:

- **Heel strike.** The thigh's sagittal angular velocity (sensor z, flexion positive after mounting)
  rises above ``swing_threshold_rad_s`` in swing and then crosses zero at the end of swing, near peak hip
  flexion, just before heel strike. Crossings within ``min_stride_s`` of the last strike are ignored.
- **Stride time.** The mean of the last ``strides_to_average`` valid strides. A stride counts only if
  it lies within [``min_stride_s``, ``max_stride_s``] and, once an average exists, within
  ``stride_tolerance`` of it. This is the validity gating of the EPIC lab's Exoboot code.
- **Phase.** Time since heel strike divided by the mean stride time. Before two valid strides, or
  ``stale_phase`` past the expected next strike, the phase is invalid and the command is zero.
- **Profile (N·m/kg, + flexion).** An extension bump in early stance and a flexion bump around toe-off.
  Each bump has an onset, a peak and an offset in % gait cycle, like the nodes of a Franks/Collins spline,
  joined by half-cosines so that the slope is zero at every node.

It implements the runtime's controller interface over a one-period window of the two thigh gyro z
channels, so the device loop runs it exactly as it runs the ONNX student.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from firmware_bridge.config import register_kind
from firmware_bridge.config.schema import spec
from firmware_bridge.features import FeatureSpec


@dataclass(frozen=True)
class TorqueBump:
    peak_nm_per_kg: float = spec(ge=0.0, le=1.0)
    onset_pct: float = spec(ge=0.0, le=100.0)
    peak_pct: float = spec(ge=0.0, le=100.0)
    offset_pct: float = spec(ge=0.0, le=100.0)

    def validate(self) -> list[str]:
        if not self.onset_pct < self.peak_pct < self.offset_pct:
            return ["onset_pct < peak_pct < offset_pct is required"]
        return []


@dataclass(frozen=True)
class BaselineConfig:
    extension: TorqueBump
    flexion: TorqueBump
    swing_threshold_rad_s: float = spec(1.0, gt=0.0)
    min_stride_s: float = spec(0.6, gt=0.0)
    max_stride_s: float = spec(2.0, gt=0.0)
    stride_tolerance: float = spec(0.35, gt=0.0, lt=1.0, doc="fraction of the mean stride a new one may differ")
    strides_to_average: int = spec(3, ge=1)
    stale_phase: float = spec(1.3, gt=1.0, doc="phase beyond which the estimate is no longer trusted")
    channels: list[str] = spec(["thigh_r.gyro_z", "thigh_l.gyro_z"], length=2)
    """Thigh sagittal angular velocity, (right, left), after the mounting rotation."""


def bump(profile: TorqueBump, pct: float) -> float:
    if pct <= profile.onset_pct or pct >= profile.offset_pct:
        return 0.0
    if pct <= profile.peak_pct:
        x = (pct - profile.onset_pct) / (profile.peak_pct - profile.onset_pct)
    else:
        x = (profile.offset_pct - pct) / (profile.offset_pct - profile.peak_pct)
    return profile.peak_nm_per_kg * 0.5 * (1.0 - math.cos(math.pi * x))


def hip_torque_nm_per_kg(config: BaselineConfig, phase: float) -> float:
    pct = 100.0 * phase
    return bump(config.flexion, pct) - bump(config.extension, pct)


class PhaseEstimator:
    """Heel strikes and stride time from one thigh's sagittal angular velocity; explicit state, one call per sample."""

    def __init__(self, config: BaselineConfig):
        self.config = config
        self.strides: list[float] = []
        self.strike_times: list[float] = []
        self.last_strike_s: float | None = None
        self.in_swing = False
        self.previous_rate = 0.0

    @property
    def stride_s(self) -> float | None:
        return float(np.mean(self.strides)) if len(self.strides) >= 2 else None

    def update(self, t_s: float, rate_rad_s: float) -> float | None:
        """Feed one sample; returns the gait phase in [0, 1) or None when not trustworthy."""
        c = self.config
        if not math.isfinite(rate_rad_s):
            return None
        if rate_rad_s > c.swing_threshold_rad_s:
            self.in_swing = True
        refractory = self.last_strike_s is not None and t_s - self.last_strike_s < c.min_stride_s
        if self.in_swing and self.previous_rate > 0.0 >= rate_rad_s and not refractory:
            self._heel_strike(t_s)
            self.in_swing = False
        self.previous_rate = rate_rad_s
        stride = self.stride_s
        if stride is None or self.last_strike_s is None:
            return None
        phase = (t_s - self.last_strike_s) / stride
        return None if phase >= c.stale_phase else min(phase, 0.999)

    def _heel_strike(self, t_s: float) -> None:
        c = self.config
        if self.last_strike_s is not None:
            duration = t_s - self.last_strike_s
            mean = float(np.mean(self.strides)) if self.strides else None
            valid = c.min_stride_s <= duration <= c.max_stride_s and (
                mean is None or abs(duration - mean) <= c.stride_tolerance * mean
            )
            if valid:
                self.strides = [*self.strides, duration][-c.strides_to_average :]
            elif duration > c.max_stride_s:
                self.strides = []  # a long pause: start over
        self.last_strike_s = t_s
        self.strike_times.append(t_s)


class BaselineController:
    """Runtime controller: (1, 1, 2) window of raw thigh gyro z → normalised (right, left) hip command."""

    def __init__(self, config: BaselineConfig, command_full_scale_nm_per_kg: float):
        self.config = config
        self.name = "baseline"
        self.full_scale = command_full_scale_nm_per_kg
        self.sides = (PhaseEstimator(config), PhaseEstimator(config))
        self.phases: list[float | None] = [None, None]

    @staticmethod
    def feature_spec(config: BaselineConfig, rate_hz: float) -> FeatureSpec:
        return FeatureSpec(tuple(config.channels), window=1, rate_hz=rate_hz, mean=(0.0, 0.0), std=(1.0, 1.0))

    def command(self, window: np.ndarray, now_s: float) -> tuple[float, float]:
        """Stride timing runs on the loop's clock, so cycles skipped while the window refills count as time."""
        out = []
        for side, estimator in enumerate(self.sides):
            phase = estimator.update(now_s, float(window[0, -1, side]))
            self.phases[side] = phase
            torque = 0.0 if phase is None else hip_torque_nm_per_kg(self.config, phase)
            out.append(torque / self.full_scale)
        return out[0], out[1]


register_kind("baseline", BaselineConfig)
