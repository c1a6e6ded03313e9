"""Low-pass filter design and a direct-form-II-transposed step, without scipy.

Coefficients follow the bilinear transform with pre-warping, i.e. they equal
``scipy.signal.butter(order, cutoff / (rate / 2))`` for order 1 and 2. The step function is the same
recurrence as ``scipy.signal.lfilter`` so the device, the simulator and the tests agree to rounding.
"""

from __future__ import annotations

import math


def lowpass_coefficients(cutoff_hz: float, rate_hz: float, order: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Butterworth low-pass ``(b, a)`` with ``a[0] == 1``, for order 1 or 2."""
    if not 0.0 < cutoff_hz < rate_hz / 2.0:
        raise ValueError(f"low-pass cutoff {cutoff_hz} Hz must be between 0 and half the rate ({rate_hz / 2.0} Hz)")
    k = math.tan(math.pi * cutoff_hz / rate_hz)
    if order == 1:
        b0 = k / (1.0 + k)
        return (b0, b0), (1.0, (k - 1.0) / (k + 1.0))
    if order == 2:
        norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
        b0 = k * k * norm
        return (b0, 2.0 * b0, b0), (1.0, 2.0 * (k * k - 1.0) * norm, (1.0 - math.sqrt(2.0) * k + k * k) * norm)
    raise ValueError(f"low-pass order must be 1 or 2, got {order}")


def lfilter_step(b: tuple[float, ...], a: tuple[float, ...], z: list[float], x: float) -> float:
    """Advance a direct-form-II-transposed filter by one sample; ``z`` (len(b)-1 values) is updated in place."""
    y = b[0] * x + z[0]
    last = len(z) - 1
    for i in range(last):
        z[i] = b[i + 1] * x - a[i + 1] * y + z[i + 1]
    z[last] = b[last + 1] * x - a[last + 1] * y
    return y
