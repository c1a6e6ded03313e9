"""What produces the normalised hip command each cycle: the ONNX student (a baseline joins it later).

A controller sees the feature window and returns the (right, left) command in [-1, 1] before shaping;
anything else it returns (NaN, out of range) is caught by the safety checks, not here.

A streaming student's state lives here, between cycles. It starts from zero exactly when the feature
window restarts (``StreamChunk.restart``: at start, and after every clear the loop makes when the safety
layer has a problem), which is when a windowed student's window refills from nothing.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from firmware_bridge.bundle import Bundle
from firmware_bridge.features import StreamChunk

WARMUP_RUNS = 50


class Controller(Protocol):
    name: str

    def command(self, window: np.ndarray | StreamChunk, now_s: float) -> tuple[float, float]:
        """``window`` is ``FeatureWindow.tensor()`` at loop time ``now_s``: the (1, W, C) float32 window, or a
        streaming spec's chunk; returns the (right, left) normalised command."""
        ...


class OnnxStudent:
    """ONNX Runtime session tuned for sitting next to a real-time loop: one thread, no spinning, warmed up.

    Either kind of bundle: a windowed model gets the window; a streaming one gets the chunk of new samples
    plus the state it returned last call.
    """

    def __init__(self, bundle: Bundle):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(bundle.model_path), options, providers=["CPUExecutionProvider"])
        self.name = f"onnx:{bundle.model_sha256[:12]}"
        self._input = bundle.input.name
        self._output = [bundle.output.name, *(s.next for s in bundle.state)]
        self._state_names = [s.name for s in bundle.state]
        self._zero_state = [np.zeros(s.shape, dtype=np.float32) for s in bundle.state]
        self._feed: dict[str, np.ndarray] = {}
        zeros = np.zeros(bundle.input.shape, dtype=np.float32)
        for _ in range(WARMUP_RUNS):
            self.reset()
            self._feed[self._input] = zeros
            self.session.run(self._output, self._feed)
        self.reset()

    def reset(self) -> None:
        """A streaming model's state back to zeros (no history); nothing for a windowed one."""
        self._feed.update(zip(self._state_names, self._zero_state, strict=True))

    def command(self, window: np.ndarray | StreamChunk, now_s: float = 0.0) -> tuple[float, float]:
        if isinstance(window, StreamChunk):
            if window.restart:
                self.reset()
            window = window.samples
        self._feed[self._input] = window
        out, *state = self.session.run(self._output, self._feed)
        self._feed.update(zip(self._state_names, state, strict=True))
        return float(out[0, 0]), float(out[0, 1])
