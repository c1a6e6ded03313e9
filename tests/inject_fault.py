"""``hipexo run`` with one stage of the device loop made to raise once SIGUSR2 arrives (tests only).

``HIPEXO_TEST_FAULT_STAGE`` names the stage: read, features, infer, shape, write or log. Everything else
is the real runtime on real ports: only the named function is wrapped, in this process.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import firmware_bridge.runtime.loop as loop
from firmware_bridge.features import FeatureWindow
from firmware_bridge.runtime.controller import OnnxStudent
from firmware_bridge.runtime.link import SerialLink
from firmware_bridge.trial.writer import TrialLogger
from tools.cli import main

TARGETS: dict[str, tuple[Any, str]] = {
    "read": (SerialLink, "read_frames"),
    "features": (FeatureWindow, "push"),
    "infer": (OnnxStudent, "command"),
    "shape": (loop, "shape_step"),
    "write": (SerialLink, "send_all"),
    "log": (TrialLogger, "cycle"),
}
armed = False


def arm(signum: int, frame: object) -> None:
    global armed
    armed = True


def failing(stage: str, original: Callable) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if armed:
            raise RuntimeError(f"injected {stage} failure")
        return original(*args, **kwargs)

    return wrapper


if __name__ == "__main__":
    stage = os.environ["HIPEXO_TEST_FAULT_STAGE"]
    owner, name = TARGETS[stage]
    setattr(owner, name, failing(stage, getattr(owner, name)))
    signal.signal(signal.SIGUSR2, arm)
    sys.exit(main(sys.argv[1:]))
