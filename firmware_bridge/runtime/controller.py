"""What produces the normalised hip command each cycle: the ONNX student (a baseline joins it later).

A controller sees the feature window and returns the (right, left) command in [-1, 1] before shaping;
anything else it returns (NaN, out of range) is caught by the safety checks, not here.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from firmware_bridge.bundle import Bundle

WARMUP_RUNS = 50


class Controller(Protocol):
    name: str

    def command(self, window: np.ndarray, now_s: float) -> tuple[float, float]:
        """``window`` is the (1, W, C) float32 student input at loop time ``now_s``; returns the (right, left)
        normalised command."""
        ...


class OnnxStudent:
    """ONNX Runtime session tuned for sitting next to a real-time loop: one thread, no spinning, warmed up."""

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
        self._output = [bundle.output.name]
        zeros = np.zeros(bundle.input.shape, dtype=np.float32)
        for _ in range(WARMUP_RUNS):
            self.session.run(self._output, {self._input: zeros})

    def command(self, window: np.ndarray, now_s: float = 0.0) -> tuple[float, float]:
        out = self.session.run(self._output, {self._input: window})[0]
        return float(out[0, 0]), float(out[0, 1])
