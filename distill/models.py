"""Student networks: input (batch, window, channels) in the device's NWC layout, output (batch, 2) = (right, left).

The causal temporal convolutional network is the default: dilated 1-D convolutions that only look back,
so the output at the newest sample depends on the window alone, in the layout the device builds.
"""

from __future__ import annotations

import torch
from torch import nn


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


class CausalTCN(nn.Module):
    def __init__(self, in_channels: int, hidden: int = 64, kernel: int = 3, dilations: tuple[int, ...] = (1, 2, 4, 8)):
        super().__init__()
        self.inp = nn.Conv1d(in_channels, hidden, 1)
        self.blocks = nn.Sequential(*(CausalConvBlock(hidden, kernel, d) for d in dilations))
        self.head = nn.Linear(hidden, 2)
        self.receptive_field = 1 + 2 * (kernel - 1) * sum(dilations)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.inp(window.transpose(1, 2)))  # NWC → NCW
        return self.head(x[:, :, -1])  # the newest time step


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class GRUStudent(nn.Module):
    """Comparison model: a GRU over the window; the output at the newest step."""

    def __init__(self, in_channels: int, hidden: int = 64):
        super().__init__()
        self.gru = nn.GRU(in_channels, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(window)
        return self.head(out[:, -1])


class MLPStudent(nn.Module):
    """Comparison model: the flattened window through two hidden layers."""

    def __init__(self, in_channels: int, window: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * window, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.net(window)


def build_student(architecture: str, in_channels: int, window: int, hidden: int) -> nn.Module:
    if architecture == "tcn":
        return CausalTCN(in_channels, hidden)
    if architecture == "gru":
        return GRUStudent(in_channels, hidden)
    return MLPStudent(in_channels, window, hidden)
