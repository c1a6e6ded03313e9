"""The torque-shaping chain: normalised model command in, bounded hip torque in N·m out.

Per side, every device period::

    command in [-1, 1] ─► × full scale (N·m) ─► × soft-start / fade gain ─► low-pass ─► rate limit ─► clamp

The rate limiter and the hard clamp come last so that *every* output honours both, whatever the filter
order or the gain ramp do (a second-order filter overshoots; a gain ramp adds slope). The rate
limiter's state is the clamped output itself, so clamping can never create a jump.

The state is an explicit :class:`ShaperState` that :func:`shape_step` updates in place: the simulator
(teacher, distillation) and the device runtime call this same function at the same rate.
A non-finite command resets the chain and yields exactly zero with ``nonfinite`` set: faults bypass
the rate limit on purpose, because zero torque is the safe state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from firmware_bridge.config.models import DeviceConfig, SubjectConfig
from firmware_bridge.filters import lfilter_step, lowpass_coefficients


@dataclass(frozen=True)
class ShapingParams:
    rate_hz: float
    full_scale_nm: float
    torque_limit_nm: float
    rate_limit_nm_per_s: float
    lowpass_b: tuple[float, ...]
    lowpass_a: tuple[float, ...]
    soft_start_s: float
    fade_out_s: float

    @classmethod
    def from_config(cls, device: DeviceConfig, subject: SubjectConfig, rate_hz: float) -> ShapingParams:
        b, a = lowpass_coefficients(device.lowpass.cutoff_hz, rate_hz, device.lowpass.order)
        return cls(
            rate_hz=rate_hz,
            full_scale_nm=device.command_full_scale_nm_per_kg * subject.body_mass_kg,
            torque_limit_nm=device.torque_limit_nm,
            rate_limit_nm_per_s=device.rate_limit_nm_per_s,
            lowpass_b=b,
            lowpass_a=a,
            soft_start_s=device.soft_start_s,
            fade_out_s=device.fade_out_s,
        )

    @property
    def max_step_nm(self) -> float:
        return self.rate_limit_nm_per_s / self.rate_hz


@dataclass
class ShaperState:
    """Everything the chain remembers between periods; a fresh state starts a soft start from zero."""

    filter_z: list[list[float]]
    output_nm: list[float] = field(default_factory=lambda: [0.0, 0.0])
    gain: float = 0.0
    gain_target: float = 1.0

    @classmethod
    def initial(cls, params: ShapingParams) -> ShaperState:
        order = len(params.lowpass_b) - 1
        return cls(filter_z=[[0.0] * order, [0.0] * order])

    @property
    def fading(self) -> bool:
        return self.gain_target == 0.0

    @property
    def faded_out(self) -> bool:
        return self.gain_target == 0.0 and self.gain == 0.0 and self.output_nm == [0.0, 0.0]


class ShapedTorque(NamedTuple):
    right_nm: float
    left_nm: float
    nonfinite: bool = False
    clamped: bool = False
    rate_limited: bool = False


def reset(state: ShaperState) -> None:
    """Zero the output and all memory; the next steps soft-start again."""
    for z in state.filter_z:
        z[:] = [0.0] * len(z)
    state.output_nm[:] = [0.0, 0.0]
    state.gain = 0.0
    state.gain_target = 1.0


def start_fade(state: ShaperState) -> None:
    """Ramp the gain to zero over the fade-out time; the output is exactly zero when the gain is (within the
    rate limit: a larger remainder steps down at the rate limit first)."""
    state.gain_target = 0.0


def shape_step(params: ShapingParams, state: ShaperState, command_right: float, command_left: float) -> ShapedTorque:
    """One device period of the chain for both sides (right, left)."""
    if not (math.isfinite(command_right) and math.isfinite(command_left)):
        reset(state)
        return ShapedTorque(0.0, 0.0, nonfinite=True)
    dt = 1.0 / params.rate_hz
    if state.gain < state.gain_target:
        state.gain = min(state.gain_target, state.gain + dt / params.soft_start_s)
    elif state.gain > state.gain_target:
        state.gain = max(state.gain_target, state.gain - dt / params.fade_out_s)
    max_step = params.max_step_nm
    limit = params.torque_limit_nm
    clamped = rate_limited = False
    zero_reachable = abs(state.output_nm[0]) <= max_step and abs(state.output_nm[1]) <= max_step
    for side, command in enumerate((command_right, command_left)):
        command = -1.0 if command < -1.0 else 1.0 if command > 1.0 else command
        filtered = lfilter_step(
            params.lowpass_b, params.lowpass_a, state.filter_z[side], command * params.full_scale_nm * state.gain
        )
        previous = state.output_nm[side]
        value = filtered
        if value > previous + max_step:
            value, rate_limited = previous + max_step, True
        elif value < previous - max_step:
            value, rate_limited = previous - max_step, True
        if value > limit:
            value, clamped = limit, True
        elif value < -limit:
            value, clamped = -limit, True
        state.output_nm[side] = value
    if state.gain == 0.0 and state.gain_target == 0.0 and zero_reachable:
        # The fade's gain is at zero: what is left is the filter's lag. Snap to zero now (the step honours the
        # rate limit), so a stop reaches zero torque in the fade time, not after the filter settles.
        reset(state)
        state.gain_target = 0.0
    return ShapedTorque(state.output_nm[0], state.output_nm[1], False, clamped, rate_limited)
