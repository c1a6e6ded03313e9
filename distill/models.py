"""Student networks: input (batch, window, channels) in the device's NWC layout, output (batch, 2) = (right, left).

The causal temporal convolutional network is the default: dilated 1-D convolutions that only look back,
so the output at the newest sample depends on the window alone, in the layout the device builds.
With ``mirror``, one leg's network serves both legs (:class:`MirroredStudent`).

Both also run as streams (``stream``): each convolution keeps the last ``(kernel - 1) · dilation`` inputs it
saw as state, so a call takes only new samples and costs the same whatever the window. From zero state the
stream computes what the windowed forward computes with its zero padding; once the window covers the
receptive field the windowed output at the newest sample no longer sees that padding, so the two agree
exactly on every later sample (distill/streaming.py exports this form).
"""

from __future__ import annotations

import torch
from torch import nn

from distill.config import TCN_DILATIONS, TCN_KERNEL, StudentConfig, tcn_receptive_field
from firmware_bridge.features import FeatureSpec

MIRROR_SIGNS = {"gyro_x": -1.0, "gyro_y": -1.0, "gyro_z": 1.0, "accel_x": 1.0, "accel_y": 1.0, "accel_z": -1.0}
"""Reflection across the sagittal plane in segment frames with z lateral (docs/conventions.md): a vector's z
flips; an angular velocity, a pseudo-vector, keeps z and flips x and y. Hip flexion stays positive."""


class CausalConvBlock(nn.Module):
    """Two dilated causal convolutions with a residual connection."""

    def __init__(self, channels: int, kernel: int, dilation: int):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(channels, channels, kernel, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, kernel, dilation=dilation)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv1(nn.functional.pad(x, (self.pad, 0))))
        y = self.conv2(nn.functional.pad(y, (self.pad, 0)))
        return self.act(x + y)

    def stream(self, x: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``x`` (batch, channels, n new steps); ``state``: each convolution's last ``pad`` inputs, oldest first."""
        seen1 = torch.cat([state[0], x], dim=2)
        y = self.act(self.conv1(seen1))
        seen2 = torch.cat([state[1], y], dim=2)
        return self.act(x + self.conv2(seen2)), [seen1[:, :, -self.pad :], seen2[:, :, -self.pad :]]


class CausalTCN(nn.Module):
    def __init__(
        self,
        in_channels: int,
        hidden: int = 64,
        kernel: int = TCN_KERNEL,
        dilations: tuple[int, ...] = TCN_DILATIONS,
        outputs: int = 2,
    ):
        super().__init__()
        if kernel < 2:
            raise ValueError(f"a causal TCN needs kernel >= 2 to see the past, got {kernel}")
        self.inp = nn.Conv1d(in_channels, hidden, 1)
        self.blocks = nn.Sequential(*(CausalConvBlock(hidden, kernel, d) for d in dilations))
        self.head = nn.Linear(hidden, outputs)
        self.receptive_field = tcn_receptive_field(kernel, dilations)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.inp(window.transpose(1, 2)))  # NWC → NCW
        return self.head(x[:, :, -1])  # the newest time step

    def state_shapes(self, batch: int) -> list[tuple[int, int, int]]:
        """The stream's state: per block, its two convolutions' (batch, hidden, (kernel - 1) · dilation)."""
        return [(batch, self.inp.out_channels, block.pad) for block in self.blocks for _ in range(2)]

    def stream(self, samples: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``samples`` (batch, n new steps, channels) → (the output at the newest step, the next state)."""
        x = self.inp(samples.transpose(1, 2))
        next_state: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x, block_state = block.stream(x, state[2 * i : 2 * i + 2])
            next_state += block_state
        return self.head(x[:, :, -1]), next_state


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class GRUStudent(nn.Module):
    """Comparison model: a GRU over the window; the output at the newest step."""

    def __init__(self, in_channels: int, hidden: int = 64, outputs: int = 2):
        super().__init__()
        self.gru = nn.GRU(in_channels, hidden, batch_first=True)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(window)
        return self.head(out[:, -1])


class MLPStudent(nn.Module):
    """Comparison model: the flattened window through two hidden layers."""

    def __init__(self, in_channels: int, window: int, hidden: int = 64, outputs: int = 2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * window, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, outputs),
        )

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.net(window)


class MirroredStudent(nn.Module):
    """One leg's network for both legs: the left leg's window is reflected into a right leg's.

    Inputs are normalised with per-channel statistics, so the reflection is an affine map per channel:
    ``right_like = (sign · (x · std_l + mean_l) − mean_r) / std_r``. Both legs run as one batch of two; the
    output keeps the device's (right, left) layout, so the bundle and the runtime are unchanged.
    """

    def __init__(self, leg: nn.Module, spec: FeatureSpec):
        super().__init__()
        right, left, sign = mirrored_channels(spec.channels)
        mean, std = torch.tensor(spec.mean), torch.tensor(spec.std)
        self.leg = leg
        self.register_buffer("right_index", torch.tensor(right))
        self.register_buffer("left_index", torch.tensor(left))
        self.register_buffer("scale", torch.tensor(sign) * std[left] / std[right])
        self.register_buffer("offset", (torch.tensor(sign) * mean[left] - mean[right]) / std[right])

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self._join(self.leg(self._legs(window)), window.shape[0])

    @property
    def receptive_field(self) -> int:
        return self.leg.receptive_field

    def state_shapes(self, batch: int) -> list[tuple[int, int, int]]:
        """The leg network's stream state for both legs: its batch is (right legs, then left legs)."""
        return self.leg.state_shapes(2 * batch)

    def stream(self, samples: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        out, next_state = self.leg.stream(self._legs(samples), state)
        return self._join(out, samples.shape[0]), next_state

    def _legs(self, window: torch.Tensor) -> torch.Tensor:
        """(batch, T, channels) → (2 · batch, T, right-leg channels): right legs, then reflected left legs."""
        right = window[:, :, self.right_index]
        left = window[:, :, self.left_index] * self.scale + self.offset
        return torch.cat([right, left], dim=0)

    @staticmethod
    def _join(both: torch.Tensor, batch: int) -> torch.Tensor:
        return torch.cat([both[:batch], both[batch:]], dim=1)


def mirrored_channels(channels: tuple[str, ...]) -> tuple[list[int], list[int], list[float]]:
    """For each channel a right leg's network reads: its index, the index of its left-leg twin, the sign.

    A right leg reads ``thigh_r`` and ``pelvis`` channels; its left twin is the same ``thigh_l`` channel
    and the reflected pelvis channel.
    """
    right, left, sign = [], [], []
    for index, channel in enumerate(channels):
        imu, quantity = channel.split(".")
        if imu == "thigh_l":
            continue
        twin = f"thigh_l.{quantity}" if imu == "thigh_r" else channel
        if twin not in channels:
            raise ValueError(f"mirror: channel {channel} has no left-leg twin {twin} among {list(channels)}")
        right.append(index)
        left.append(channels.index(twin))
        sign.append(MIRROR_SIGNS[quantity])
    missing = [c for c in channels if c.startswith("thigh_l.") and c.replace("thigh_l.", "thigh_r.") not in channels]
    if missing:
        raise ValueError(f"mirror: left channels {missing} have no right-leg twin")
    return right, left, sign


def build_student(config: StudentConfig, spec: FeatureSpec) -> nn.Module:
    """The configured network over ``spec``'s channels; with ``config.mirror``, one leg's net for both."""
    if not config.mirror:
        return _network(config, len(spec.channels), spec.window, outputs=2)
    right, _, _ = mirrored_channels(spec.channels)
    return MirroredStudent(_network(config, len(right), spec.window, outputs=1), spec)


def _network(config: StudentConfig, in_channels: int, window: int, outputs: int) -> nn.Module:
    if config.architecture == "tcn":
        return CausalTCN(in_channels, config.hidden, outputs=outputs)
    if config.architecture == "gru":
        return GRUStudent(in_channels, config.hidden, outputs=outputs)
    return MLPStudent(in_channels, window, config.hidden, outputs=outputs)
