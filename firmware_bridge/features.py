"""The student's input: a ring buffer of IMU channels at the device rate, normalised, oldest first.

Every device period the loop pushes the newest reading of each IMU; the window copies the declared
channels in the declared order, normalises them ``(x - mean) / std`` and keeps the last ``window``
periods. :meth:`FeatureWindow.tensor` returns a ``(1, window, channels)`` float32 array without copying
(the ring is stored twice over, so the newest ``window`` rows are always contiguous). For a streaming
student (``FeatureSpec.stream``) it returns a :class:`StreamChunk` instead: only the samples the model has
not seen, and whether its carried state must start from zero because the history was cleared.

An IMU calibrated on the wearer (``rotations``, :func:`firmware_bridge.mounting.mounting_corrections`) has its
gyro and accel rotated into the nominal sensor frame before anything else, so the student and the baseline
see what a sensor mounted as the device config says would read.

Alongside the data the window reports freshness: the age of each IMU's newest sample, IMUs that never
reported, and periods in which an IMU had no new sample (a gap). Training code builds windows through
:func:`sliding_windows`, which uses the same channel order and normalisation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from firmware_bridge.protocol.messages import ImuReading

QUANTITIES = {"gyro": 0, "accel": 3}
AXES = {"x": 0, "y": 1, "z": 2}


def parse_channel(channel: str) -> tuple[str, int]:
    """``'thigh_r.gyro_x'`` → ``('thigh_r', 0)``: IMU name and offset into (gyro xyz, accel xyz)."""
    imu, _, signal = channel.partition(".")
    quantity, _, axis = signal.partition("_")
    if not imu or quantity not in QUANTITIES or axis not in AXES:
        raise ValueError(f"channel {channel!r} is not '<imu>.<gyro|accel>_<x|y|z>'")
    return imu, QUANTITIES[quantity] + AXES[axis]


@dataclass(frozen=True)
class FeatureSpec:
    """What the student reads: channel names in order, window length, rate and normalisation.

    ``window`` is also the clean history the runtime waits for after a clear before the student's output
    counts; ``stream`` hands a streaming student only its new samples (:class:`StreamChunk`).
    """

    channels: tuple[str, ...]
    window: int
    rate_hz: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    stream: bool = False

    def __post_init__(self) -> None:
        n = len(self.channels)
        if n == 0:
            raise ValueError("feature spec has no channels")
        if self.window < 1:
            raise ValueError(f"feature window must be >= 1 period, got {self.window}")
        if len(self.mean) != n or len(self.std) != n:
            raise ValueError(f"mean ({len(self.mean)}) and std ({len(self.std)}) must match the {n} channels")
        if not all(math.isfinite(s) and s > 0 for s in self.std):
            raise ValueError("every std must be finite and > 0")
        for channel in self.channels:
            parse_channel(channel)

    @property
    def imu_names(self) -> tuple[str, ...]:
        """IMUs used, in order of first appearance among the channels."""
        return tuple(dict.fromkeys(parse_channel(c)[0] for c in self.channels))


class LatestImu(NamedTuple):
    """The newest reading of one IMU, when it arrived, and its sample counter."""

    reading: ImuReading
    received_s: float
    sample_seq: int


class WindowStatus(NamedTuple):
    max_age_s: float
    """Age of the stalest IMU's newest sample (inf when an IMU never reported)."""
    missing_imus: tuple[int, ...]
    repeated_imus: tuple[int, ...]
    """IMUs with no new sample since the previous period (one gap each)."""
    nonfinite: bool


class StreamChunk(NamedTuple):
    """A streaming student's input for one call."""

    samples: np.ndarray
    """(1, n, channels) float32, oldest first: the samples pushed since the previous hand-out (one per cycle), or
    after a restart the whole window. A view into the ring: use it before the next push."""
    restart: bool
    """The history was cleared (or outran the window) since the previous hand-out: the student's state starts
    from zero, exactly as a windowed student's window refills from nothing."""


class FeatureWindow:
    """Streaming builder of the student input; the same object runs in the simulator and on the device."""

    def __init__(
        self, spec: FeatureSpec, imu_ids: Mapping[str, int], rotations: Mapping[str, np.ndarray] | None = None
    ):
        """``rotations``: per IMU name, the 3×3 rotation applied to its gyro and accel (absent: none)."""
        unknown = [name for name in spec.imu_names if name not in imu_ids]
        if unknown:
            raise ValueError(f"feature channels use IMUs {unknown} that the device config does not define")
        self.spec = spec
        self.imu_ids = tuple(imu_ids[name] for name in spec.imu_names)
        rotations = rotations or {}
        used = [name for name in spec.imu_names if name in rotations]
        self._rotations = (
            np.stack([np.asarray(rotations[n], dtype=np.float64).T if n in used else np.eye(3) for n in spec.imu_names])
            if used
            else None
        )
        """Per IMU slot, the transposed rotation: ``readings (slot, gyro|accel, xyz) @ it`` rotates each vector."""
        self._rotated = np.zeros((len(self.imu_ids), 2, 3))
        self._source = _source_index(spec, spec.imu_names)
        self._mean, self._inv_std = _normalisation(spec)
        self._raw = np.zeros(6 * len(self.imu_ids))
        self._row = np.zeros(len(spec.channels))
        self._ring = np.zeros((2 * spec.window, len(spec.channels)), dtype=np.float32)
        self._last_seq: dict[int, int] = {}
        self.gaps = dict.fromkeys(self.imu_ids, 0)
        self.clear()

    def clear(self) -> None:
        """Forget the history (after a fault); :attr:`ready` is False until the window refills."""
        self._ring[:] = 0.0
        self._pos = 0
        self._filled = 0
        self._unseen = 0
        self._restart = True
        self._last_seq.clear()

    @property
    def ready(self) -> bool:
        return self._filled >= self.spec.window

    def push(self, latest: Mapping[int, LatestImu], now_s: float) -> WindowStatus:
        """Add one device period built from the newest sample of each IMU."""
        raw = self._raw
        max_age = 0.0
        missing: list[int] = []
        repeated: list[int] = []
        for slot, imu_id in enumerate(self.imu_ids):
            entry = latest.get(imu_id)
            if entry is None:
                missing.append(imu_id)
                max_age = math.inf
                continue
            max_age = max(max_age, now_s - entry.received_s)
            if self._last_seq.get(imu_id) == entry.sample_seq:
                repeated.append(imu_id)
                self.gaps[imu_id] += 1
            self._last_seq[imu_id] = entry.sample_seq
            base = slot * 6
            raw[base : base + 3] = entry.reading.gyro
            raw[base + 3 : base + 6] = entry.reading.accel
        nonfinite = self.push_raw(raw)
        return WindowStatus(max_age, tuple(missing), tuple(repeated), nonfinite)

    def push_raw(self, imu_values: np.ndarray) -> bool:
        """Add one period from a flat array of (gyro xyz, accel xyz) per IMU in :attr:`imu_ids` order.

        Returns True when a channel was not finite (it is stored as 0 so it cannot poison the model).
        """
        row = self._row  # preallocated: no allocation on the device loop's fast path
        if self._rotations is not None:
            np.matmul(imu_values.reshape(-1, 2, 3), self._rotations, out=self._rotated)
            imu_values = self._rotated.reshape(-1)
        np.take(imu_values, self._source, out=row)
        np.subtract(row, self._mean, out=row)
        np.multiply(row, self._inv_std, out=row)
        nonfinite = not math.isfinite(row.sum())  # any NaN/inf (or overflow) makes the sum non-finite
        if nonfinite:
            row[~np.isfinite(row)] = 0.0
        window = self.spec.window
        self._ring[self._pos] = row
        self._ring[self._pos + window] = row
        self._pos = (self._pos + 1) % window
        self._filled += 1
        self._unseen += 1
        return nonfinite

    def tensor(self) -> np.ndarray | StreamChunk:
        """The student input: the ``(1, window, channels)`` float32 window, oldest period first, or for a
        streaming spec the :class:`StreamChunk` of what the student has not seen yet (call after a push)."""
        window = self.spec.window
        if not self.spec.stream:
            return self._ring[self._pos : self._pos + window][None]
        restart = self._restart or self._unseen > window
        end = self._pos + window
        chunk = StreamChunk(self._ring[end - min(self._unseen, window) : end][None], restart)
        self._unseen, self._restart = 0, False
        return chunk


def sliding_windows(spec: FeatureSpec, imu_names: Sequence[str], imu_values: np.ndarray) -> np.ndarray:
    """Offline twin of :class:`FeatureWindow` for training data.

    ``imu_values`` has shape ``(T, 6 * len(imu_names))`` (gyro xyz, accel xyz per IMU, device rate).
    Returns ``(T - window + 1, window, channels)`` float32 windows, row ``i`` ending at period
    ``i + window - 1``, identical to what the streaming window holds at that period.
    """
    return windows_of(normalised(spec, imu_names, imu_values), spec.window)


def windows_of(rows: np.ndarray, window: int) -> np.ndarray:
    """``(T - window + 1, window, channels)``: every window of ``(T, channels)`` rows, oldest first, row ``i``
    ending at row ``i + window - 1``."""
    view = np.lib.stride_tricks.sliding_window_view(rows, window, axis=0)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def normalised(spec: FeatureSpec, imu_names: Sequence[str], imu_values: np.ndarray) -> np.ndarray:
    """``(T, channels)`` float32: the rows the streaming window pushes, one per period (the offline twin)."""
    mean, inv_std = _normalisation(spec)
    rows = ((imu_values[:, _source_index(spec, imu_names)] - mean) * inv_std).astype(np.float32)
    rows[~np.isfinite(rows)] = 0.0
    return rows


def _source_index(spec: FeatureSpec, imu_names: Sequence[str]) -> np.ndarray:
    """For each channel, its index in the flat (gyro xyz, accel xyz) per-IMU array."""
    slot_of = {name: i for i, name in enumerate(imu_names)}
    return np.array([slot_of[imu] * 6 + offset for imu, offset in map(parse_channel, spec.channels)])


def _normalisation(spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(spec.mean, dtype=np.float64), 1.0 / np.asarray(spec.std, dtype=np.float64)
