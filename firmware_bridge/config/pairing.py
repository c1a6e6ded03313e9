"""Checks across config files: a device config is only valid with the runtime loop that runs it.

The runtime builds the shaping chain from the device config at the runtime config's loop rate; these
checks refuse, before anything starts, every pair the chain would refuse (``hipexo run``, ``hipexo
config validate``, ``hipexo bundle verify`` all call them).
"""

from __future__ import annotations

from firmware_bridge.config.models import DeviceConfig, RuntimeConfig
from firmware_bridge.config.schema import ConfigError
from firmware_bridge.filters import lowpass_coefficients


def check_pair(runtime: RuntimeConfig, runtime_source: str, device: DeviceConfig, device_source: str) -> None:
    """Raise :class:`ConfigError` naming the device file and field when the pair cannot run."""
    problems = []
    cutoff, rate = device.lowpass.cutoff_hz, runtime.loop_rate_hz
    try:
        lowpass_coefficients(cutoff, rate, device.lowpass.order)
    except ValueError:
        problems.append(
            f"lowpass.cutoff_hz: {cutoff:g} Hz must be below half the loop rate ({rate / 2:g} Hz: "
            f"loop_rate_hz {rate:g} in {runtime_source}); lower the cutoff or raise the loop rate"
        )
    if device.fade_out_s * rate < 1.0 or device.soft_start_s * rate < 1.0:
        problems.append(
            f"soft_start_s/fade_out_s: {device.soft_start_s:g}/{device.fade_out_s:g} s must each last at least "
            f"one loop period ({1 / rate:g} s at loop_rate_hz {rate:g} in {runtime_source})"
        )
    if problems:
        raise ConfigError(device_source, problems)
