"""How fast a run ends, measured on real ``hipexo run`` processes (real ptys, signals and MCAP files).

- log loss on SIGKILL: SIGKILL to the runtime's whole group (runtime and logger) while assisting; the
  loss is the kill time minus the last cycle in the trial log;
- SIGTERM to zero torque: SIGTERM to the group while assisting; the time until the emulated motor
  controller receives a zero-torque command (fade_out_s 0.2 s here, one period 10 ms);
- exception to exit: an exception injected into the infer stage (tests/inject_fault.py); the time until
  the process has exited (exit code 3, zero torque sent).

Uses the test suite's harness (tests/device_bench.py). Run: ``.venv/bin/python benchmarks/runtime_stops.py``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from figures import parse_args, print_headline  # benchmarks/figures.py, beside this script

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from device_bench import FAST_DEVICE, RuntimeUnderTest, make_bundle  # noqa: E402


def assisting(folder: Path, bundle: Path, **kwargs) -> RuntimeUnderTest:
    folder.mkdir()
    run = RuntimeUnderTest(folder, bundle, **kwargs)
    run.set_gyro_z(0.4, -0.2)
    run.wait_for(run.assisting, 15, "assistance")
    time.sleep(1.0)
    return run


def sigkill_loss_s(folder: Path, bundle: Path) -> float:
    run = assisting(folder, bundle)
    try:
        t_kill = time.time_ns()
        run.signal_group(signal.SIGKILL)
        run.finish()
        return (t_kill - run.log().messages["/timing"][-1][0]) / 1e9
    finally:
        run.close()


def sigterm_to_zero_s(folder: Path, bundle: Path) -> float:
    run = assisting(folder, bundle)
    try:
        t = time.monotonic()
        run.signal_group(signal.SIGTERM)
        assert run.finish() == 0
        return next(w for w, c in run.commands() if w > t and c.right_nm == 0.0 and c.left_nm == 0.0) - t
    finally:
        run.close()


def exception_to_exit_s(folder: Path, bundle: Path) -> float:
    inject = (str(TESTS / "inject_fault.py"),)
    run = assisting(folder, bundle, launcher=inject, env={"HIPEXO_TEST_FAULT_STAGE": "infer"})
    try:
        t = time.monotonic()
        run.process.send_signal(signal.SIGUSR2)
        run.process.wait(10)
        elapsed = time.monotonic() - t
        assert run.finish() == 3
        return elapsed
    finally:
        run.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parse_args(parser, repeats=3)
    tmp = Path(tempfile.mkdtemp(prefix="hipexo-stops-"))
    bundle = make_bundle(tmp / "bundle", device=FAST_DEVICE)
    figures = {}
    for name, measure in (
        ("sigkill_log_loss_s", sigkill_loss_s),
        ("sigterm_to_zero_torque_s", sigterm_to_zero_s),
        ("exception_to_exit_s", exception_to_exit_s),
    ):
        values = np.array([measure(tmp / f"{name}{k}", bundle) for k in range(args.repeats)])
        print(f"{name:<26} median {np.median(values):.3f} s, max {values.max():.3f} s (n={len(values)})", flush=True)
        figures[f"{name}_median"], figures[f"{name}_max"] = float(np.median(values)), float(values.max())
    print_headline(figures, args.quick)


if __name__ == "__main__":
    main()
