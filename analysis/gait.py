"""Gait cycles from the thigh gyroscope, and signals averaged over them (% gait cycle, per side).

Heel strikes come from the baseline controller's :class:`PhaseEstimator` (one implementation of stride
detection: the one the device runs), fed offline with a trial's thigh sagittal angular velocity. A stride
is the time between two heel strikes of the same side that the estimator accepted as valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_bridge.baseline import BaselineConfig, PhaseEstimator
from firmware_bridge.config import load_config
from firmware_bridge.config.paths import default_config

POINTS = 101
"""Samples of a gait-cycle profile: 0, 1, …, 100 % of the cycle."""


def stride_config() -> BaselineConfig:
    """Stride detection thresholds: the baseline controller's (configs/controller/baseline.yaml)."""
    return load_config(default_config("controller", "baseline"), BaselineConfig)


@dataclass(frozen=True)
class GaitProfile:
    """A signal over the gait cycle: mean and standard deviation across strides at 0…100 %."""

    mean: np.ndarray
    std: np.ndarray
    strides: int
    stride_s: float
    """Mean stride duration (s); NaN without strides."""

    @property
    def peak_positive(self) -> tuple[float, float]:
        """(value, % gait cycle) of the largest positive value (flexion for hip torque)."""
        k = int(np.argmax(self.mean))
        return float(self.mean[k]), float(k)

    @property
    def peak_negative(self) -> tuple[float, float]:
        """(value, % gait cycle) of the most negative value (extension for hip torque)."""
        k = int(np.argmin(self.mean))
        return float(self.mean[k]), float(k)


def strides(times_s: np.ndarray, thigh_gyro_z: np.ndarray, config: BaselineConfig) -> list[tuple[float, float]]:
    """Strides (start, end) in seconds between consecutive heel strikes, in time order.

    A stride counts when it lies within [``min_stride_s``, ``max_stride_s``] and within
    ``stride_tolerance`` of the median stride, the estimator's own validity rules applied to the whole trial.
    """
    estimator = PhaseEstimator(config)
    for t, rate in zip(times_s, thigh_gyro_z, strict=True):
        estimator.update(float(t), float(rate))
    pairs = list(zip(estimator.strike_times, estimator.strike_times[1:], strict=False))
    durations = np.array([end - start for start, end in pairs])
    in_range = (durations >= config.min_stride_s) & (durations <= config.max_stride_s)
    if not in_range.any():
        return []
    median = float(np.median(durations[in_range]))
    keep = in_range & (np.abs(durations - median) <= config.stride_tolerance * median)
    return [pair for pair, ok in zip(pairs, keep, strict=True) if ok]


def phase_profile(times_s: np.ndarray, values: np.ndarray, cycles: list[tuple[float, float]]) -> GaitProfile:
    """``values`` (sampled at ``times_s``) resampled onto 0…100 % of each stride, then mean and std."""
    grid = np.linspace(0.0, 1.0, POINTS)
    curves = []
    for start, end in cycles:
        inside = (times_s >= start) & (times_s <= end)
        if inside.sum() < 5:
            continue
        curves.append(np.interp(start + grid * (end - start), times_s[inside], values[inside]))
    if not curves:
        nan = np.full(POINTS, np.nan)
        return GaitProfile(nan, nan, 0, float("nan"))
    stack = np.array(curves)
    durations = [end - start for start, end in cycles]
    return GaitProfile(stack.mean(axis=0), stack.std(axis=0), len(curves), float(np.mean(durations)))


STRIDE_DISAGREEMENT = 0.10
"""The two legs of one walker whose stride counts or mean stride times differ by more than this fraction (of the
larger) are flagged: one walker's legs take the same strides, so a gap means a sensor or detection problem."""


@dataclass(frozen=True)
class LegDisagreement:
    strides: float
    """|right − left| / larger, stride counts; NaN when neither leg has strides."""
    stride_s: float
    """|right − left| / larger, mean stride times; NaN when a leg has no strides."""
    limit: float = STRIDE_DISAGREEMENT

    @property
    def flagged(self) -> bool:
        return bool(self.strides > self.limit or self.stride_s > self.limit)

    def as_dict(self) -> dict[str, float | bool]:
        return {"strides": self.strides, "stride_s": self.stride_s, "limit": self.limit, "flagged": self.flagged}


def _relative(a: float, b: float) -> float:
    if not (np.isfinite(a) and np.isfinite(b)) or max(a, b) <= 0:
        return float("nan")
    return abs(a - b) / max(a, b)


def leg_disagreement(right: GaitProfile, left: GaitProfile) -> LegDisagreement:
    """How far the two legs' stride counts and mean stride times are apart."""
    return LegDisagreement(_relative(right.strides, left.strides), _relative(right.stride_s, left.stride_s))


def agreement(a: GaitProfile, b: GaitProfile) -> tuple[float, float]:
    """(Pearson r, RMSE) between two profiles over the gait cycle; NaN when either has no strides."""
    if a.strides == 0 or b.strides == 0 or np.std(a.mean) == 0 or np.std(b.mean) == 0:
        return float("nan"), float("nan")
    r = float(np.corrcoef(a.mean, b.mean)[0, 1])
    return r, float(np.sqrt(np.mean((a.mean - b.mean) ** 2)))
