"""The streaming form of a causal TCN student, as the device runs it: new samples + state in, command + state out.

The windowed student recomputes every step of its window each cycle although only the newest output is new.
Its streaming form (``CausalTCN.stream``) carries each dilated convolution's last inputs between calls, so a
call costs the same whatever the window. :func:`run_stream` drives any step function the way the device
does (the whole window after a restart, then one sample per call), so the same schedule checks parity in
PyTorch and in ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from distill.models import CausalTCN, MirroredStudent

Step = Callable[[np.ndarray, list[np.ndarray]], tuple[np.ndarray, list[np.ndarray]]]
"""(samples (1, n, channels), state) → (command (1, 2), next state)."""


def streamable(model: nn.Module) -> bool:
    """Whether ``model`` has a streaming form: a causal TCN, alone or as both legs' network."""
    return isinstance(model, CausalTCN) or (isinstance(model, MirroredStudent) and isinstance(model.leg, CausalTCN))


def state_names(model: CausalTCN | MirroredStudent) -> list[str]:
    """ONNX input names of the state, one per convolution (the manifest names each one's output)."""
    tcn = model.leg if isinstance(model, MirroredStudent) else model
    return [f"state_block{b}_conv{c}" for b in range(len(tcn.blocks)) for c in (1, 2)]


class StreamingStudent(nn.Module):
    """The export wrapper: ``forward(samples, *state) → (command, *next_state)`` with flat tensors for ONNX."""

    def __init__(self, student: CausalTCN | MirroredStudent):
        super().__init__()
        self.student = student

    def forward(self, samples: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        command, next_state = self.student.stream(samples, list(state))
        return (command, *next_state)

    def zero_state(self) -> list[np.ndarray]:
        return [np.zeros(shape, dtype=np.float32) for shape in self.student.state_shapes(1)]


def run_stream(step: Step, zero_state: list[np.ndarray], sequence: np.ndarray, window: int) -> np.ndarray:
    """``(T - window + 1, 2)`` commands over a ``(T, channels)`` sequence on the device's schedule: from zero
    state the first ``window`` samples in one call, then one sample per call. Row ``i`` is the command at
    period ``i + window - 1``, like the windowed model on ``sliding_windows`` row ``i``."""
    out, state = step(np.ascontiguousarray(sequence[None, :window]), zero_state)
    commands = [out[0]]
    for t in range(window, len(sequence)):
        out, state = step(np.ascontiguousarray(sequence[None, t : t + 1]), state)
        commands.append(out[0])
    return np.array(commands)
